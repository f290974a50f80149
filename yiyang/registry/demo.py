"""The demo city's register: 恩阳区's older people, organisations, facilities and staff (issue #4).

The figures are the county's own (恩民政函〔2021〕3号, `seeds/000`): 642,513 residents, 130,876 aged 60+, 11,604
aged 80+, 48 centenarians, 2,303 特困 persons (264 of them 集中供养 in institutions); 10 public care homes with
1,200 beds, 4 private ones with 1,450 beds not yet operating, 雪山 and 明阳 regional centres under construction,
42 community day-care centres, the 登科 community complex (600 m², 13 beds) and the 玉山 regional centre
(120 beds). Elders scale with `--scale` (default 1/20); facilities and staff keep the real counts.

One long module on purpose: it is one story of one county, step after step; its length is data, not logic.

Every step draws from its own generator seeded from the demo seed (`random.Random("…:<seed>:<step>")`), so
what one step draws never shifts another's, and ages are counted back from today: two builds with the same
seed on the same day are identical. Community locations depend on the community code only.
"""

import datetime
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from yiyang.core import audit, pii
from yiyang.core.demo import DEMO_COMMUNITY, DEMO_COUNTY, demo_step
from yiyang.core.models import AuditAction, Region

from .models import (
    CategoryKind,
    CertificateLevel,
    Contact,
    Elder,
    ElderCategory,
    ElderStatus,
    Facility,
    FacilityKind,
    FamilyLink,
    LicenceKind,
    LivingSituation,
    Organisation,
    OrganisationKind,
    OrganisationLicence,
    Practitioner,
    PractitionerRole,
    Relationship,
    StatusEventKind,
)
from .services import name_pinyin, record_status_event

# ------------------------------------------------------------------------------------------------ the figures

POPULATION = 642_513
ELDERS_60 = 130_876
ELDERS_80 = 11_604
CENTENARIANS = 48
DESTITUTE = 2_303
DESTITUTE_CENTRAL = 264

# The demo family account's mother (FamilyLink), in the demo community account's community.
FAMILY_ELDER_NAME = "何玉兰"
FAMILY_ELDER_AGE = 84

# Generous box around 恩阳区 (about 1,156 km² around 31.79 N, 106.63 E): every location in the county is inside.
COUNTY_BOX = ((31.50, 32.05), (106.30, 106.95))

# Street/town centres (lat, lon): the three 街道 form the town around the old 恩阳古镇; towns spread up to ~22 km.
# Approximate positions (no map data ships with the project); they keep each town's direction from the centre.
STREET_CENTRES = {
    "511903001": (31.789, 106.636),  # 登科街道
    "511903002": (31.806, 106.660),  # 文治街道
    "511903003": (31.772, 106.615),  # 司城街道
    "511903100": (31.835, 106.705),  # 明阳镇
    "511903101": (31.700, 106.585),  # 玉山镇
    "511903102": (31.860, 106.560),  # 渔溪镇
    "511903105": (31.735, 106.505),  # 花丛镇
    "511903106": (31.745, 106.720),  # 柳林镇
    "511903107": (31.890, 106.505),  # 下八庙镇
    "511903108": (31.780, 106.455),  # 茶坝镇
    "511903111": (31.925, 106.600),  # 上八庙镇
    "511903112": (31.650, 106.665),  # 关公镇
    "511903113": (31.640, 106.545),  # 兴隆镇
    "511903114": (31.690, 106.760),  # 双胜镇
    "511903115": (31.935, 106.470),  # 群乐镇
    "511903118": (31.600, 106.620),  # 尹家镇
    "511903119": (31.615, 106.730),  # 九镇
    "511903120": (31.830, 106.420),  # 雪山镇
}
BAZHOU_CENTRE = (31.858, 106.747)  # 巴州区, the city proper, north-east of 恩阳

URBAN_ROADS = {
    "511903001": ["登科大道", "义阳路", "古镇街", "万寿街", "白玉路", "麻石路", "回龙街", "恩阳河街"],
    "511903002": ["恩阳大道", "文治路", "义阳大道", "柏林路", "飞凤路", "金鼓路", "红梅路", "得胜街"],
    "511903003": ["司城路", "双石桥街", "高岸路", "松梁路", "一字街", "齐家梁路", "司城大道"],
}
TOWN_ROADS = ["正街", "新街", "上街", "下街", "河街", "老街", "滨河路", "中心街", "场镇路"]
BAZHOU_ROADS = ["江北大道", "回风路", "西城路", "兴文路", "东环路", "巴州大道", "望王山路", "南池路"]


def _rng(seed: int, step: str) -> random.Random:
    return random.Random(f"yiyang.registry.demo:{seed}:{step}")


def _offset(lat: float, lon: float, km: float, angle: float) -> tuple[float, float]:
    return (lat + km * math.cos(angle) / 111.0,
            lon + km * math.sin(angle) / (111.0 * math.cos(math.radians(lat))))


def _jitter(rng: random.Random, lat: float, lon: float, km: float) -> tuple[float, float]:
    return _offset(lat, lon, km * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi))


def _dec(value: float) -> Decimal:
    return Decimal(f"{value:.6f}")


def short_name(region_name: str) -> str:
    """登科寺社区居民委员会 → 登科寺社区; 新场居民委员会 → 新场社区; 团包垭村民委员会 → 团包垭村;
    石龙村村民委员会 → 石龙村."""
    if region_name.endswith("村民委员会"):
        base = region_name[: -len("村民委员会")]
        return base if base.endswith("村") else base + "村"
    if region_name.endswith("居民委员会"):
        base = region_name[: -len("居民委员会")]
        return base if base.endswith("社区") else base + "社区"
    return region_name


@dataclass(frozen=True)
class Place:
    """A community (社区/村) with what addresses and locations need."""

    code: str
    region_name: str  # the committee's official name, e.g. 黄柏村民委员会
    name: str  # 黄柏村
    street_code: str
    street_name: str
    county_name: str
    village: bool  # 村民委员会
    urban: bool  # in a 街道 (not a 镇)
    lat: float
    lon: float

    @property
    def prefix(self) -> str:
        return f"{self.county_name}{self.street_name}{self.name}"


def _place_point(code: str, centre: tuple[float, float], urban: bool, village: bool) -> tuple[float, float]:
    """A community's location depends only on its code: the same on every build."""
    rng = random.Random(f"yiyang.registry.demo:geo:{code}")
    if urban:
        km = rng.uniform(2.0, 4.0) if village else rng.uniform(0.2, 1.6)
    else:
        km = rng.uniform(1.5, 6.0) if village else rng.uniform(0.0, 0.8)
    return _offset(*centre, km, rng.uniform(0, 2 * math.pi))


def load_places(county: str = DEMO_COUNTY) -> list[Place]:
    """The county's communities (level community) with their streets, in code order."""
    county_region = Region.objects.get(code=county)
    streets = {r.code: r for r in Region.objects.filter(parent_id=county, level="street")}
    places = []
    for r in Region.objects.filter(parent_id__in=list(streets), level="community").order_by("code"):
        street = streets[r.parent_id]
        urban = street.name.endswith("街道")
        village = r.name.endswith("村民委员会")
        if county == DEMO_COUNTY:
            centre = STREET_CENTRES.get(street.code, (31.79, 106.63))
        else:
            centre = BAZHOU_CENTRE
        lat, lon = _place_point(r.code, centre, urban, village)
        places.append(Place(code=r.code, region_name=r.name, name=short_name(r.name), street_code=street.code,
                            street_name=street.name, county_name=county_region.name, village=village,
                            urban=urban, lat=lat, lon=lon))
    return places


def _address(rng: random.Random, place: Place, *, home: bool = True) -> str:
    if place.village:
        return f"{place.prefix}{rng.randint(1, 12)}组{rng.randint(1, 60)}号"
    if place.county_name != "恩阳区":
        roads = BAZHOU_ROADS
    else:
        roads = URBAN_ROADS.get(place.street_code, TOWN_ROADS)
    address = f"{place.prefix}{rng.choice(roads)}{rng.randint(1, 180)}号"
    if home and place.urban and rng.random() < 0.6:
        address += f"{rng.randint(1, 12)}栋{rng.randint(1, 3)}单元{rng.randint(1, 7)}0{rng.randint(1, 4)}室"
    return address


# ------------------------------------------------------------------------------------------------ names

SURNAMES = [
    ("王", 9), ("李", 9), ("张", 8), ("刘", 7), ("陈", 7), ("杨", 6), ("赵", 3), ("黄", 3), ("周", 3), ("吴", 3),
    ("徐", 2), ("孙", 2), ("胡", 2), ("朱", 2), ("高", 2), ("林", 1), ("何", 5), ("郭", 2), ("马", 1), ("罗", 3),
    ("苟", 3), ("蒲", 2), ("岳", 2), ("任", 2), ("唐", 3), ("冯", 2), ("邓", 3), ("谢", 2), ("向", 3), ("袁", 2),
    ("余", 2), ("彭", 2), ("付", 2), ("母", 1), ("冉", 1), ("鲜", 1), ("侯", 1), ("文", 1), ("严", 1), ("蒋", 2),
]
_SURNAME_CHARS = [s for s, _ in SURNAMES]
_SURNAME_WEIGHTS = [w for _, w in SURNAMES]

def _words(text: str) -> list[str]:
    return text.split()


# Given names by sex and birth cohort (born up to 1945 / after), as they appear on Sichuan elders' registers.
GIVEN = {
    ("F", "old"): _words("秀英 桂英 桂兰 玉兰 淑珍 秀兰 玉珍 凤英 翠兰 素珍 玉英 秀珍 桂芳 春兰 菊英 德秀 明秀 "
                         "素英 淑华 秀芝 桂珍 玉秀 翠英 开秀 光秀 清秀 正英 成英 兰英 素清 德英 桂香 英 兰 珍 秀"),
    ("F", "mid"): _words("秀琼 素琼 德琼 桂琼 玉琼 淑琼 建华 秀华 玉梅 红梅 丽华 华英 春梅 美华 志英 小琼 群英 "
                         "淑芬 桂华 明英 秀蓉 玉蓉 德芳 成芳 琼英 晓华 冬梅 红英 素芳 菊华 琼 芳 蓉 英 梅"),
    ("M", "old"): _words("德明 德贵 明清 正清 洪发 福全 永福 长生 树林 德成 光明 文才 富贵 天福 开明 国栋 玉成 "
                         "朝富 明德 正富 荣华 世清 万福 有才 绍清 泽林 安全 光荣 德银 兴发 贵 福 林 清"),
    ("M", "mid"): _words("建国 国华 志华 建军 国庆 卫东 志强 红军 跃进 建平 国平 文华 德华 建华 明华 学文 永红 "
                         "光辉 和平 德全 成林 正华 国强 建明 志明 家富 朝阳 清华 德兵 明 华 军 强 刚 平 勇"),
}
# Children of elders (born 1950s–1990s) and staff.
YOUNGER_GIVEN = {
    "M": _words("志强 勇 伟 军 涛 斌 建 波 刚 小平 海 红兵 明亮 俊 杰 强 磊 鹏 林 浩 超 文杰 永刚 小军 家明 德勇"),
    "F": _words("丽 娟 燕 静 霞 红 梅 玲 敏 小琼 海燕 晓梅 丽华 春燕 莉 英 芳 琼 丽娟 小红 雪梅 晓燕 秀梅 艳 琴"),
}


def _surname(rng: random.Random) -> str:
    return rng.choices(_SURNAME_CHARS, weights=_SURNAME_WEIGHTS)[0]


def elder_name(rng: random.Random, sex: str, birth_year: int, surname: str | None = None) -> str:
    cohort = "old" if birth_year <= 1945 else "mid"
    if rng.random() < 0.2:
        cohort = "mid" if cohort == "old" else "old"
    return (surname or _surname(rng)) + rng.choice(GIVEN[(sex, cohort)])


def younger_name(rng: random.Random, sex: str, surname: str | None = None) -> str:
    return (surname or _surname(rng)) + rng.choice(YOUNGER_GIVEN[sex])


# ------------------------------------------------------------------------------------------------ identifiers

# Elders' ID numbers keep the code of the county that issued them: 恩阳区 was carved out of 巴州区 (511902) in
# 2013, which was the county-level 巴中市 (513701, 巴中地区) from 1993 to 2000.
HISTORIC_ENYANG_CODES = [("511903", 80), ("511902", 12), ("513701", 8)]


class IdNumbers:
    """Valid, unique 身份证号 (GB 11643): region code, birth date, order code with the sex digit, check char."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def make(self, region: str, birth: datetime.date, sex: str) -> str:
        for _ in range(1000):
            sex_digit = self.rng.randrange(5) * 2 + (1 if sex == "M" else 0)
            first17 = f"{region}{birth:%Y%m%d}{self.rng.randrange(100):02d}{sex_digit}"
            if first17 not in self.used:
                self.used.add(first17)
                return first17 + pii.id_check_char(first17)
        raise RuntimeError("no free ID number order code")  # pragma: no cover


MOBILE_PREFIXES = _words("130 131 132 133 134 135 136 137 138 139 150 151 152 155 156 157 158 159 177 180 181 "
                         "182 183 187 188 189 191 198 199")


def mobile(rng: random.Random) -> str:
    return f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10 ** 8):08d}"


def landline(rng: random.Random) -> str:
    return f"0827-{rng.choice(['33', '36', '38'])}{rng.randrange(10 ** 5):05d}"


def luhn_complete(digits: str) -> str:
    """Append the Luhn check digit (bank card numbers)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


# (bank, card prefix, length, weight)
BANKS_RURAL = [("四川农信", "621457", 19, 30), ("巴中农商银行", "623190", 19, 15),
               ("中国邮政储蓄银行", "621799", 19, 30), ("中国农业银行", "622848", 19, 25)]
BANKS_URBAN = BANKS_RURAL + [("中国工商银行", "621226", 19, 12), ("中国建设银行", "621700", 19, 10),
                             ("中国银行", "456351", 16, 4)]


def bank_account(rng: random.Random, urban: bool) -> tuple[str, str]:
    banks = BANKS_URBAN if urban else BANKS_RURAL
    name, prefix, length, _ = rng.choices(banks, weights=[b[3] for b in banks])[0]
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return name, luhn_complete(body)


# Organisation codes (GB 11714): 8 characters and a check character; they sit inside credit codes (GB 32100).
_ORG_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_value(ch: str) -> int:
    return int(ch) if pii.is_ascii_digits(ch) else ord(ch) - 55


def organisation_code(rng: random.Random, head: str = "MA") -> str:
    body = head + "".join(rng.choice(_ORG_CHARS) for _ in range(8 - len(head)))
    c = 11 - sum(_org_value(ch) * w for ch, w in zip(body, _ORG_WEIGHTS, strict=True)) % 11
    return body + ("X" if c == 10 else "0" if c == 11 else str(c))


def credit_code(rng: random.Random, kind: str, used: set[str], county: str = DEMO_COUNTY) -> str:
    """A valid 统一社会信用代码: 91 company, 52 民办非企业单位, 12 事业单位; then the county, the org code, check."""
    head = {"91": "MA", "52": "MJ", "12": "MB"}[kind]
    while True:
        first17 = f"{kind}{county}{organisation_code(rng, head)}"
        code = first17 + pii.credit_code_check_char(first17)
        if code not in used:
            used.add(code)
            return code


# ------------------------------------------------------------------------------------------------ elders


@dataclass
class ElderSpec:
    """One generated person, before it becomes rows (so the generator can be tested without a database)."""

    name: str
    sex: str
    birth_date: datetime.date
    id_number: str
    place: Place
    hukou_code: str
    address: str
    lat: float
    lon: float
    living: str
    phone: str = ""
    bank_name: str = ""
    bank_account: str = ""
    notes: str = ""
    categories: list = field(default_factory=list)  # (kind, grade, start, end, note)
    contacts: list = field(default_factory=list)  # (name, relationship, phone, is_guardian, address)

    @property
    def surname(self) -> str:
        return self.name[0]


@dataclass(frozen=True)
class Institution:
    name: str
    place: Place
    address: str
    lat: float
    lon: float
    public: bool
    beds: int


def _years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def birth_date_for_age(rng: random.Random, age: int, today: datetime.date) -> datetime.date:
    """A birth date on which the person is exactly `age` today."""
    earliest = _years_before(today, age + 1) + datetime.timedelta(days=1)
    latest = _years_before(today, age)
    return earliest + datetime.timedelta(days=rng.randrange((latest - earliest).days + 1))


def _date_between(rng: random.Random, start: datetime.date, end: datetime.date) -> datetime.date:
    if end <= start:
        return start
    return start + datetime.timedelta(days=rng.randrange((end - start).days + 1))


def _weighted_sample(rng: random.Random, items: list, weights: list[float], k: int) -> list:
    """k items without replacement, with probability by weight (Efraimidis–Spirakis), deterministic."""
    keyed = sorted(((rng.random() ** (1.0 / w), i) for i, w in enumerate(weights) if w > 0), reverse=True)
    return [items[i] for _, i in keyed[:k]]


def _age_weights(today: datetime.date) -> tuple[list[int], list[float], list[int], list[float]]:
    ages_young = list(range(60, 80))
    weights_young = []
    for age in ages_young:
        born = today.year - age - 1
        # The 1959–61 famine births are few, the 1962–65 boom many (both still show in every county's pyramid).
        cohort = {1959: 0.8, 1960: 0.6, 1961: 0.65, 1962: 1.1, 1963: 1.3, 1964: 1.2, 1965: 1.15}.get(born, 1.0)
        weights_young.append(math.exp(-0.045 * (age - 60)) * cohort)
    ages_old = list(range(80, 100))
    weights_old = [math.exp(-0.13 * (age - 80) - 0.006 * (age - 80) ** 2) for age in ages_old]
    return ages_young, weights_young, ages_old, weights_old


def _male_share(age: int) -> float:
    """Men's share by age: about even in the sixties, a third in the nineties, a quarter among centenarians."""
    if age < 70:
        return 0.50
    if age < 80:
        return 0.48 - 0.004 * (age - 70)
    if age < 90:
        return 0.44 - 0.008 * (age - 80)
    return max(0.22, 0.36 - 0.012 * (age - 90))


LIVING_WEIGHTS = {  # 独居, 空巢, 与子女同住, 留守
    "urban": (12, 38, 48, 2),
    "town": (14, 34, 40, 12),
    "village": (15, 27, 25, 33),
}
LIVING_KINDS = (LivingSituation.ALONE, LivingSituation.EMPTY_NEST, LivingSituation.WITH_CHILDREN,
                LivingSituation.LEFT_BEHIND)
MIGRANT_WORK_PLACES = ["浙江省宁波市", "广东省东莞市", "广东省深圳市宝安区", "福建省晋江市", "成都市双流区",
                       "重庆市渝北区", "新疆乌鲁木齐市", "江苏省苏州市", "广东省佛山市", "成都市郫都区"]
DISABILITY_TYPES = [("肢体残疾", 45), ("视力残疾", 20), ("听力残疾", 10), ("言语残疾", 3), ("智力残疾", 7),
                    ("精神残疾", 8), ("多重残疾", 7)]
ENTITLED_NOTES = ["在乡退役军人", "带病回乡退役军人", "伤残军人（六级）", "参战退役人员", "烈士遗属",
                  "因公牺牲军人遗属"]


def _setting(place: Place) -> str:
    if place.village:
        return "village"
    return "urban" if place.urban or place.county_name != "恩阳区" else "town"


def generate_elders(*, seed: int, scale: float, today: datetime.date, places: list[Place],
                    bazhou_places: list[Place] = (), institutions: list[Institution] = (),
                    hukou_bazhong: list[str] = (), hukou_sichuan: list[str] = ()) -> list[ElderSpec]:
    """The county's older people at `scale`, as plain records. The first one is the demo family's mother."""
    rng = _rng(seed, "elders")
    ids = IdNumbers(rng)
    n = max(1, round(ELDERS_60 * scale))
    n80 = min(n, round(ELDERS_80 * scale))
    n100 = min(n80, round(CENTENARIANS * scale))
    ages_young, w_young, ages_old, w_old = _age_weights(today)
    ages = (rng.choices(ages_young, weights=w_young, k=n - n80)
            + rng.choices(ages_old, weights=w_old, k=max(0, n80 - n100 - 1))
            + rng.choices(range(100, 106), weights=[10, 6, 3.5, 2, 1, 0.5], k=n100))
    rng.shuffle(ages)
    # The family elder comes first and takes one of the 80+ places.
    ages = ([FAMILY_ELDER_AGE] + ages)[:n]

    by_code = {p.code: p for p in places}
    home = by_code.get(DEMO_COMMUNITY, places[0])
    specs: list[ElderSpec] = []
    for i, age in enumerate(ages):
        family = i == 0
        sex = "F" if family else ("M" if rng.random() < _male_share(age) else "F")
        birth = birth_date_for_age(rng, age, today)
        place = home if family else rng.choice(places)
        hukou = place.code
        region = rng.choices([c for c, _ in HISTORIC_ENYANG_CODES], weights=[w for _, w in HISTORIC_ENYANG_CODES])[0]
        if not family:
            r = rng.random()
            if r < 0.005 and bazhou_places:
                # Registered here, living with children in the city proper (the bureau still pays their benefits).
                place = rng.choice(bazhou_places)
            elif r < 0.035:
                hukou = rng.choice(places).code  # moved inside the county, registration left behind
            elif r < 0.06 and hukou_bazhong:
                hukou = rng.choice(hukou_bazhong)
                region = hukou[:6] if rng.random() < 0.85 or hukou[:6] != "511921" else "513721"
            elif r < 0.07 and hukou_sichuan:
                hukou = rng.choice(hukou_sichuan)
                region = hukou[:6]
        name = FAMILY_ELDER_NAME if family else elder_name(rng, sex, birth.year)
        lat, lon = _jitter(rng, place.lat, place.lon, 1.2 if place.village else 0.3)
        spec = ElderSpec(
            name=name, sex=sex, birth_date=birth, id_number=ids.make(region, birth, sex), place=place,
            hukou_code=hukou, address=_address(rng, place), lat=lat, lon=lon, living="",
        )
        if family:
            spec.address = f"{place.prefix}万寿街18号"
        weights = list(LIVING_WEIGHTS[_setting(place)])
        if age >= 85:
            weights[0] *= 1.2
            weights[2] *= 1.6
        spec.living = LivingSituation.ALONE if family else rng.choices(LIVING_KINDS, weights=weights)[0]
        phone_chance = 0.82 if age < 70 else 0.65 if age < 80 else 0.42 if age < 90 else 0.2
        if family or rng.random() < phone_chance:
            spec.phone = mobile(rng)
        specs.append(spec)

    _place_in_institutions(rng, specs, institutions, today)
    destitute = _destitute(rng, specs, scale, today, institutions)
    _other_categories(rng, specs, destitute, today)
    _contacts_and_accounts(rng, specs, destitute, today)
    return specs


def _move_into(spec: ElderSpec, inst: Institution) -> None:
    spec.place, spec.address, spec.lat, spec.lon = inst.place, inst.address, inst.lat, inst.lon
    spec.living = LivingSituation.INSTITUTION


def _place_in_institutions(rng: random.Random, specs: list[ElderSpec], institutions: list[Institution],
                           today: datetime.date) -> None:
    """A few elders (not 特困) live in care homes; the older, the likelier."""
    if not institutions:
        return
    weights = [i.beds for i in institutions]
    for spec in specs[1:]:
        chance = 0.015 if _age(spec, today) >= 80 else 0.003
        if spec.place.county_name == "恩阳区" and rng.random() < chance:
            inst = rng.choices(institutions, weights=weights)[0]
            _move_into(spec, inst)
            spec.notes = f"入住{inst.name}"


def _age(spec: ElderSpec, today: datetime.date) -> int:
    b = spec.birth_date
    return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


def _destitute(rng: random.Random, specs: list[ElderSpec], scale: float, today: datetime.date,
               institutions: list[Institution]) -> set[int]:
    """特困: round(2,303 × scale) people, mostly rural men living alone; 264/2,303 of them in institutions."""
    total = round(DESTITUTE * scale)
    central = round(total * DESTITUTE_CENTRAL / DESTITUTE)
    candidates = [i for i, s in enumerate(specs) if i > 0 and s.place.county_name == "恩阳区"
                  and s.living != LivingSituation.INSTITUTION]
    weights = []
    for i in candidates:
        s = specs[i]
        w = {"village": 3.0, "town": 1.5, "urban": 0.7}[_setting(s.place)]
        weights.append(w * (1.7 if s.sex == "M" else 1.0) * (1.2 if _age(s, today) >= 80 else 1.0))
    chosen = _weighted_sample(rng, candidates, weights, total)
    in_homes = set(_weighted_sample(rng, chosen, [_age(specs[i], today) - 55 for i in chosen], central))
    public = [inst for inst in institutions if inst.public]
    for i in chosen:
        s = specs[i]
        home = s.place
        start = _date_between(rng, max(datetime.date(2007, 1, 1), _years_before(s.birth_date, -40)),
                              today - datetime.timedelta(days=60))
        if i in in_homes and public:
            inst = min(public, key=lambda x: (x.lat - home.lat) ** 2 + (x.lon - home.lon) ** 2)
            _move_into(s, inst)
            note = "集中供养"
            s.notes = f"集中供养于{inst.name}"
        else:
            s.living = LivingSituation.ALONE if rng.random() < 0.9 else LivingSituation.EMPTY_NEST
            note = "农村分散供养" if home.village or not home.urban else "城市分散供养"
        s.categories.append((CategoryKind.DESTITUTE, "", start, None, note))
    return set(chosen)


def _other_categories(rng: random.Random, specs: list[ElderSpec], destitute: set[int],
                      today: datetime.date) -> None:
    last = today - datetime.timedelta(days=30)
    for i, s in enumerate(specs):
        if i == 0:
            continue
        setting = _setting(s.place)
        age = _age(s, today)
        poor = i in destitute
        if not poor:
            chance = {"village": 0.06, "town": 0.045, "urban": 0.03}[setting]
            r = rng.random()
            if r < chance:
                start = _date_between(rng, datetime.date(2010, 1, 1), last)
                end, note = None, "农村低保" if setting == "village" else "城市低保"
                if rng.random() < 0.12 and start < today - datetime.timedelta(days=400):
                    end = _date_between(rng, start + datetime.timedelta(days=180), today - datetime.timedelta(days=1))
                    note = "家庭收入超过标准，退出低保"
                s.categories.append((CategoryKind.SUBSISTENCE, "", start, end, note))
            elif r < chance + 0.012:
                s.categories.append((CategoryKind.NEAR_SUBSISTENCE, "", _date_between(
                    rng, datetime.date(2016, 1, 1), last), None, ""))
            elif r < chance + 0.027:
                s.categories.append((CategoryKind.LOW_INCOME, "", _date_between(
                    rng, datetime.date(2018, 1, 1), last), None, "收入低于当地低保标准1.5倍"))
        if rng.random() < (0.08 if poor else 0.022):
            kind = rng.choices([d for d, _ in DISABILITY_TYPES], weights=[w for _, w in DISABILITY_TYPES])[0]
            start = _date_between(rng, max(datetime.date(2008, 1, 1), _years_before(s.birth_date, -18)), last)
            grade = "一级" if rng.random() < 0.35 else "二级"
            s.categories.append((CategoryKind.SEVERE_DISABILITY, grade, start, None, kind))
        if not poor and s.birth_date.year >= 1938 and age <= 85 and rng.random() < 0.004:
            note = "独生子女死亡" if rng.random() < 0.8 else "独生子女伤残"
            s.categories.append((CategoryKind.BEREAVED_FAMILY, "", _date_between(
                rng, datetime.date(2012, 1, 1), last), None, note))
            if note == "独生子女死亡" and s.living in (LivingSituation.WITH_CHILDREN, LivingSituation.LEFT_BEHIND):
                s.living = LivingSituation.EMPTY_NEST
        chance = (0.025 if age >= 75 else 0.006) if s.sex == "M" else 0.002
        if rng.random() < chance:
            note = rng.choice(ENTITLED_NOTES[:4] if s.sex == "M" else ENTITLED_NOTES[4:])
            start = _date_between(rng, max(datetime.date(1985, 1, 1), _years_before(s.birth_date, -20)),
                                  datetime.date(2020, 12, 31))
            s.categories.append((CategoryKind.ENTITLED, "", start, None, note))


def _contacts_and_accounts(rng: random.Random, specs: list[ElderSpec], destitute: set[int],
                           today: datetime.date) -> None:
    for i, s in enumerate(specs):
        setting = _setting(s.place)
        if i == 0:  # the demo family's mother: her son is the `family` account
            s.contacts = [("杨志强", Relationship.SON, "13908271234", True, "恩阳区文治街道义阳社区恩阳大道88号"),
                          ("杨丽", Relationship.DAUGHTER, "15183961234", False, "巴中市巴州区江北大道126号")]
            s.bank_name, s.bank_account = "四川农信", luhn_complete("621457" + "".join(
                str(rng.randrange(10)) for _ in range(12)))
            continue
        kinds = {c[0] for c in s.categories}
        notes = {c[4] for c in s.categories}
        age = _age(s, today)
        needs_guardian = age >= 85 or "智力残疾" in notes or "精神残疾" in notes
        if i in destitute:
            s.contacts.append((s.place.region_name if s.place.county_name == "恩阳区" else "村（居）委会",
                               Relationship.OFFICIAL, landline(rng), needs_guardian or rng.random() < 0.3, ""))
            if rng.random() < 0.5:
                s.contacts.append((younger_name(rng, rng.choice("MF"), s.surname if rng.random() < 0.6 else None),
                                   Relationship.RELATIVE, mobile(rng), False, ""))
        elif "独生子女死亡" in notes:
            s.contacts.append((younger_name(rng, rng.choice("MF")), Relationship.RELATIVE, mobile(rng), False, ""))
        else:
            family_surname = s.surname if s.sex == "M" else _surname(rng)
            only_child = "独生子女伤残" in notes
            for k in range(1 if only_child or rng.random() < 0.45 else 2):
                rel = rng.choices([Relationship.SON, Relationship.DAUGHTER, Relationship.DAUGHTER_IN_LAW,
                                   Relationship.GRANDCHILD], weights=[45, 35, 10, 10 if age >= 85 else 2])[0]
                sex = "F" if rel in (Relationship.DAUGHTER, Relationship.DAUGHTER_IN_LAW) else (
                    "M" if rel == Relationship.SON else rng.choice("MF"))
                surname = None if rel == Relationship.DAUGHTER_IN_LAW else family_surname
                if s.living == LivingSituation.LEFT_BEHIND:
                    address = rng.choice(MIGRANT_WORK_PLACES)
                elif s.living == LivingSituation.WITH_CHILDREN:
                    address = s.address
                else:
                    address = rng.choice(["", "恩阳区登科街道", "恩阳区文治街道", "巴中市巴州区", "成都市"])
                s.contacts.append((younger_name(rng, sex, surname), rel, mobile(rng), k == 0 and (
                    needs_guardian or rng.random() < 0.1), address))
            if s.living == LivingSituation.EMPTY_NEST and rng.random() < 0.15:
                spouse_sex = "F" if s.sex == "M" else "M"
                s.contacts.append((elder_name(rng, spouse_sex, s.birth_date.year), Relationship.SPOUSE,
                                   s.phone or mobile(rng), False, s.address))
        if s.living == LivingSituation.LEFT_BEHIND and not s.notes:
            s.notes = "子女在外务工"
        if kinds & {CategoryKind.DESTITUTE, CategoryKind.SUBSISTENCE} or rng.random() < 0.86:
            s.bank_name, s.bank_account = bank_account(rng, setting == "urban")


# ------------------------------------------------------------------------------------------------ facilities

# (operator, facility, facility kind, community, beds, nursing beds). The seed names the 福利中心, 玉山's
# centre and five 敬老院; the 中心敬老院, 柳林 and 花丛 complete its "10 public homes, 1,200 beds".
PUBLIC_HOMES = [
    ("巴中市恩阳区社会福利中心", "恩阳区社会福利中心", FacilityKind.CARE_HOME, "511903003005", 300, 150),
    ("巴中市恩阳区中心敬老院", "恩阳区中心敬老院", FacilityKind.DESTITUTE_HOME, "511903002012", 200, 80),
    ("巴中市恩阳区玉山镇区域养老服务中心", "玉山镇区域养老服务中心", FacilityKind.CARE_HOME, "511903101003", 120, 60),
    ("巴中市恩阳区上八庙镇敬老院", "上八庙镇敬老院", FacilityKind.DESTITUTE_HOME, "511903111001", 60, 20),
    ("巴中市恩阳区渔溪镇敬老院", "渔溪镇敬老院", FacilityKind.DESTITUTE_HOME, "511903102001", 80, 30),
    ("巴中市恩阳区下八庙镇敬老院", "下八庙镇敬老院", FacilityKind.DESTITUTE_HOME, "511903107001", 60, 20),
    ("巴中市恩阳区茶坝镇敬老院", "茶坝镇敬老院", FacilityKind.DESTITUTE_HOME, "511903108001", 50, 16),
    # 观音井 is not a town in the 2023 list; 下八庙镇 has a 观音井社区 (511903107004), where its home is placed.
    ("巴中市恩阳区观音井敬老院", "观音井敬老院", FacilityKind.DESTITUTE_HOME, "511903107004", 50, 15),
    ("巴中市恩阳区柳林镇敬老院", "柳林镇敬老院", FacilityKind.DESTITUTE_HOME, "511903106001", 140, 50),
    ("巴中市恩阳区花丛镇敬老院", "花丛镇敬老院", FacilityKind.DESTITUTE_HOME, "511903105001", 140, 45),
]
UNDER_CONSTRUCTION = [
    ("雪山区域性养老中心", FacilityKind.CARE_HOME, "511903120001", 150, 75),
    ("明阳区域性养老中心", FacilityKind.CARE_HOME, "511903100001", 300, 150),
]
# Registered, built, not yet operating (民办养老机构4所、床位1450张，均未投入运营).
PRIVATE_HOMES = [
    ("巴中康乐颐养健康管理有限公司", "91", "恩阳区康乐颐养院", "511903002008", 500, 250),
    ("四川恩阳古镇康养产业有限公司", "91", "恩阳古镇康养中心", "511903001009", 400, 180),
    ("巴中市恩阳区福寿园养老院", "52", "福寿园养老院", "511903100009", 300, 120),
    ("巴中市恩阳区夕阳红老年公寓", "52", "夕阳红老年公寓", "511903003003", 250, 80),
]
# 42 城乡社区日间照料中心, by street (the three 街道 and the larger towns have more).
DAY_CARE_PER_STREET = {
    "511903001": 4, "511903002": 4, "511903003": 3, "511903100": 3, "511903101": 4, "511903102": 3,
    "511903105": 2, "511903106": 2, "511903107": 3, "511903108": 2, "511903111": 2, "511903112": 2,
    "511903113": 1, "511903114": 2, "511903115": 1, "511903118": 1, "511903119": 1, "511903120": 2,
}
MEAL_POINTS = ["511903001002", "511903001008", "511903001007", "511903002008", "511903002004", "511903002009",
               "511903003005", "511903003002", "511903101003", "511903100001"]
CENTRAL_KITCHEN_AT = "511903002010"
MUTUAL_AID_STREETS = ["511903102", "511903105", "511903112", "511903113", "511903115", "511903120"]


@dataclass
class _Built:
    organisations: int = 0
    facilities: int = 0
    licences: int = 0


def _facility(rng, built: _Built, place: Place, *, name: str, kind: str, operator=None, area=None, beds=0,
              nursing=0, hours="", inclusive=True, active=True) -> Facility:
    lat, lon = _jitter(rng, place.lat, place.lon, 0.15)
    built.facilities += 1
    return Facility.objects.create(
        name=name, kind=kind, operator=operator, region_id=place.code, address=_address(rng, place, home=False),
        latitude=_dec(lat), longitude=_dec(lon), floor_area=Decimal(f"{area:.2f}") if area else None,
        beds_total=beds, beds_nursing=nursing, opening_hours=hours, is_inclusive=inclusive, is_active=active,
    )


def _licence(rng, built: _Built, org: Organisation, kind: str, number: str, today: datetime.date, *,
             years: int | None = 5, expires_in: int | None = None) -> None:
    issued = today - datetime.timedelta(days=rng.randrange(100, 1500))
    expires = None
    if expires_in is not None:
        expires = today + datetime.timedelta(days=expires_in)
        issued = _years_before(expires, years or 5)
    elif years:
        expires = _years_before(issued, -years)
    number = number.replace("{year}", str(issued.year))
    OrganisationLicence.objects.create(organisation=org, kind=kind, number=number, issued_on=issued,
                                       expires_on=expires)
    built.licences += 1


def _food_licence_number(rng, business: str) -> str:
    return f"JY{business}{DEMO_COUNTY}{rng.randrange(10 ** 6):06d}{rng.randrange(10)}"


@demo_step
def registry_facilities(ctx, log) -> None:
    """Operators, care homes, day-care centres, street centres, meal points, the central kitchen, licences."""
    if Facility.objects.filter(region__code__startswith=DEMO_COUNTY).exists():
        log("facilities: the county already has facilities, left as they are")
        return
    rng = _rng(ctx.seed, "facilities")
    today = timezone.localdate()
    places = {p.code: p for p in load_places()}
    used = set(Organisation.objects.exclude(credit_code="").values_list("credit_code", flat=True))
    built = _Built()
    provider = ctx.accounts["provider"].organisation

    def org(name, kind, code_kind, place_code, **extra):
        place = places[place_code]
        built.organisations += 1
        return Organisation.objects.create(
            name=name, kind=kind, credit_code=credit_code(rng, code_kind, used), region_id=place_code,
            address=_address(rng, place, home=False), phone=extra.pop("phone", None) or landline(rng),
            legal_representative=younger_name(rng, rng.choice("MF")),
            contact_person=younger_name(rng, rng.choice("MF")), **extra)

    registration = {"91": LicenceKind.BUSINESS, "52": LicenceKind.SOCIAL, "12": LicenceKind.INSTITUTION}

    # Public care homes (公办养老机构10所、床位1200张).
    expiring = {"巴中市恩阳区茶坝镇敬老院": 48, "巴中市恩阳区下八庙镇敬老院": -20}
    for org_name, fac_name, kind, code, beds, nursing in PUBLIC_HOMES:
        o = org(org_name, OrganisationKind.PUBLIC, "12", code)
        _licence(rng, built, o, LicenceKind.INSTITUTION, o.credit_code, today)
        _licence(rng, built, o, LicenceKind.CARE_FILING, f"恩民养备〔{{year}}〕{rng.randint(1, 30)}号", today,
                 years=None)
        _licence(rng, built, o, LicenceKind.FOOD, _food_licence_number(rng, "3"), today,
                 expires_in=expiring.get(org_name))
        _licence(rng, built, o, LicenceKind.FIRE, f"恩消备字〔{{year}}〕第{rng.randint(1, 120):04d}号", today,
                 years=None)
        if beds >= 200:
            _licence(rng, built, o, LicenceKind.MEDICAL, f"PDY{rng.randrange(10 ** 8):08d}{DEMO_COUNTY}"
                     f"{rng.randrange(10 ** 7):07d}", today)
        _facility(rng, built, places[code], name=fac_name, kind=kind, operator=o,
                  area=beds * rng.uniform(32, 45), beds=beds, nursing=nursing, hours="全天24小时")
    for fac_name, kind, code, beds, nursing in UNDER_CONSTRUCTION:
        _facility(rng, built, places[code], name=fac_name, kind=kind, area=beds * rng.uniform(38, 46), beds=beds,
                  nursing=nursing, hours="在建", active=False)
    for org_name, code_kind, fac_name, code, beds, nursing in PRIVATE_HOMES:
        o = org(org_name, OrganisationKind.CARE_HOME, code_kind, code)
        _licence(rng, built, o, registration[code_kind], o.credit_code, today,
                 years=None if code_kind == "91" else 5)
        _facility(rng, built, places[code], name=fac_name, kind=FacilityKind.CARE_HOME, operator=o,
                  area=beds * rng.uniform(35, 48), beds=beds, nursing=nursing, hours="尚未运营",
                  inclusive=False, active=False)

    # Service organisations: a social-work centre for the town, a home-care centre for the towns, the kitchen.
    leling = org("巴中市恩阳区乐龄社会工作服务中心", OrganisationKind.SOCIAL, "52", "511903002005")
    _licence(rng, built, leling, LicenceKind.SOCIAL, leling.credit_code, today, expires_in=12)
    huikang = org("巴中市恩阳区惠康居家养老服务中心", OrganisationKind.SOCIAL, "52", "511903101001")
    _licence(rng, built, huikang, LicenceKind.SOCIAL, huikang.credit_code, today)
    kitchen = org("巴中市恩阳区惠邻餐饮管理有限公司", OrganisationKind.KITCHEN, "91", CENTRAL_KITCHEN_AT)
    _licence(rng, built, kitchen, LicenceKind.BUSINESS, kitchen.credit_code, today, years=None)
    _licence(rng, built, kitchen, LicenceKind.FOOD, _food_licence_number(rng, "2"), today, expires_in=25)
    if provider is not None and not provider.licences.exists():
        _licence(rng, built, provider, LicenceKind.BUSINESS, provider.credit_code or "—", today, years=None)

    # Street centres: 登科's community complex (恩阳区第一家社区养老服务综合中心, 白玉社区, 600 ㎡, 13 beds) and
    # the centres of 文治 and 司城 (the norm is ≥ 1500 ㎡ and ≥ 50 beds; 司城's falls short, as in real life).
    _facility(rng, built, places["511903001008"], name="登科街道社区养老服务综合体", kind=FacilityKind.STREET_CENTRE,
              operator=provider, area=600, beds=13, nursing=13, hours="日托 8:00-18:00，全托24小时")
    _facility(rng, built, places["511903002008"], name="文治街道养老服务中心", kind=FacilityKind.STREET_CENTRE,
              operator=leling, area=1860, beds=60, nursing=26, hours="日托 8:00-18:00，全托24小时")
    _facility(rng, built, places["511903003002"], name="司城街道养老服务中心", kind=FacilityKind.STREET_CENTRE,
              operator=leling, area=1420, beds=46, nursing=18, hours="日托 8:00-18:00，全托24小时")

    # 42 community day-care centres.
    by_street: dict[str, list[Place]] = {}
    for p in places.values():
        by_street.setdefault(p.street_code, []).append(p)
    for street, count in DAY_CARE_PER_STREET.items():
        residential = [p for p in by_street[street] if not p.village and p.code != "511903001008"]
        villages = [p for p in by_street[street] if p.village]
        rng.shuffle(residential)
        rng.shuffle(villages)
        urban = street in URBAN_ROADS
        chosen = residential[:count] if urban else residential[:1] + villages[: count - min(1, len(residential))]
        for k, place in enumerate(chosen[:count]):
            if street == "511903001" or (street == "511903002" and k < 2):
                operator = provider
            elif urban:
                operator = leling
            else:
                operator = huikang if rng.random() < 0.4 else None
            # The norm is ≥ 200 ㎡ and ≥ 10 beds; some village centres (and a few in town) fall short.
            short = rng.random() < (0.12 if urban else 0.3)
            area = rng.randint(130, 199) if short and rng.random() < 0.6 else rng.randint(200, 480 if urban else 360)
            beds = rng.randint(4, 9) if short else rng.randint(10, 20 if urban else 14)
            _facility(rng, built, place, name=f"{place.name}日间照料中心", kind=FacilityKind.DAY_CARE,
                      operator=operator, area=area, beds=beds,
                      nursing=rng.randint(0, beds // 4),
                      hours=rng.choice(["周一至周日 8:00-18:00", "周一至周五 8:30-17:30"]) if urban
                      else "周一至周五 9:00-17:00", inclusive=rng.random() < 0.95)

    # 助餐: the central kitchen and meal points in the town, all run by the kitchen company.
    _facility(rng, built, places[CENTRAL_KITCHEN_AT], name="恩阳区老年助餐中央厨房", kind=FacilityKind.CENTRAL_KITCHEN,
              operator=kitchen, area=920, hours="每日 6:00-19:00")
    for code in MEAL_POINTS:
        place = places[code]
        _facility(rng, built, place, name=f"{place.name}老年助餐点", kind=FacilityKind.MEAL_POINT, operator=kitchen,
                  area=rng.randint(60, 180), hours="每日 11:00-13:00，17:00-18:30")
    # A few village mutual-aid points (农村互助养老).
    for street in MUTUAL_AID_STREETS:
        place = rng.choice([p for p in by_street[street] if p.village])
        _facility(rng, built, place, name=f"{place.name}互助养老点", kind=FacilityKind.RURAL_MUTUAL,
                  area=rng.randint(80, 220), beds=rng.randint(0, 6), hours="周一至周六 8:30-17:00")
    log(f"facilities: {built.facilities} facilities (42 day-care centres, 10 public care homes with 1200 beds, "
        f"4 private homes with 1450 beds not yet operating, 2 under construction), {built.organisations} "
        f"organisations, {built.licences} licences")


# ------------------------------------------------------------------------------------------------ practitioners

SKILLS = ["助浴", "助洁", "助餐", "助医", "助急", "康复", "鼻饲", "压疮护理", "失智照护", "理发", "陪诊"]
LEVELS = [(CertificateLevel.NONE, 15), (CertificateLevel.LEVEL5, 35), (CertificateLevel.LEVEL4, 30),
          (CertificateLevel.LEVEL3, 15), (CertificateLevel.LEVEL2, 5)]


@demo_step
def registry_practitioners(ctx, log) -> None:
    """Staff of the provider (12 caregivers, one of them the `caregiver` account), the homes, centres, kitchen."""
    provider = ctx.accounts["provider"].organisation
    caregiver_user = ctx.accounts.get("caregiver")
    if Practitioner.objects.filter(organisation=provider).exists():
        log("practitioners: the provider already has staff, left as they are")
        return
    rng = _rng(ctx.seed, "practitioners")
    ids = IdNumbers(rng)
    today = timezone.localdate()
    rows: list[Practitioner] = []

    def person(org, role, *, name=None, sex=None, age=None, level=None, skills="", account=None):
        sex = sex or ("F" if rng.random() < (0.85 if role == PractitionerRole.CAREGIVER else 0.6) else "M")
        age = age or (rng.randint(38, 58) if role == PractitionerRole.CAREGIVER else rng.randint(24, 55))
        birth = birth_date_for_age(rng, age, today)
        region = rng.choices(["511903", "511902", "511921", "511923"], weights=[75, 15, 5, 5])[0]
        if level is None:
            level = rng.choices([lv for lv, _ in LEVELS], weights=[w for _, w in LEVELS])[0] if (
                role == PractitionerRole.CAREGIVER) else CertificateLevel.NONE
        start = _date_between(rng, max(datetime.date(2012, 1, 1), _years_before(birth, -20)),
                              today - datetime.timedelta(days=30))
        number = ""
        if level:
            number = f"Y{DEMO_COUNTY}{start.year}{rng.randrange(10 ** 6):06d}"
        elif role == PractitionerRole.NURSE:
            number = f"{start.year}51{rng.randrange(10 ** 8):08d}"
        elif role == PractitionerRole.SOCIAL_WORKER:
            number = f"SG{start.year}{DEMO_COUNTY}{rng.randrange(10 ** 4):04d}"
        p = Practitioner(organisation=org, name=name or younger_name(rng, sex), phone=mobile(rng), role=role,
                         certificate_level=level, certificate_number=number, skills=skills, start_date=start,
                         account=account)
        p.set_identity(ids.make(region, birth, sex))
        if org != provider and rng.random() < 0.05:  # a few have left (the provider's team is complete)
            p.end_date = _date_between(rng, max(start, today - datetime.timedelta(days=365)), today)
        rows.append(p)

    def caregiver_skills(k_min=2, k_max=5):
        return ",".join(rng.sample(SKILLS, rng.randint(k_min, k_max)))

    # The demo provider: its dispatcher, a nurse, a social worker and 12 caregivers (赵桂兰 is the `caregiver`).
    person(provider, PractitionerRole.MANAGER, name="刘洋", sex="M", age=36)
    person(provider, PractitionerRole.NURSE, skills="助医,压疮护理,鼻饲")
    person(provider, PractitionerRole.SOCIAL_WORKER)
    person(provider, PractitionerRole.CAREGIVER, name="赵桂兰", sex="F", age=48, level=CertificateLevel.LEVEL4,
           skills="助浴,助洁,助医,康复", account=caregiver_user)
    for _ in range(11):
        person(provider, PractitionerRole.CAREGIVER, skills=caregiver_skills())

    orgs = {o.name: o for o in Organisation.objects.filter(region__code__startswith=DEMO_COUNTY)}
    for org_name, _, _, _, beds, _ in PUBLIC_HOMES:
        o = orgs.get(org_name)
        if o is None:
            continue
        person(o, PractitionerRole.MANAGER)
        for _ in range(max(2, round(beds / 10))):
            person(o, PractitionerRole.CAREGIVER, skills=caregiver_skills(2, 4))
        for _ in range(beds // 60 if beds >= 100 else 0):
            person(o, PractitionerRole.NURSE, skills="助医,鼻饲,压疮护理")
        for _ in range(max(1, beds // 120) if beds >= 100 else 0):
            person(o, PractitionerRole.SOCIAL_WORKER)
        if beds >= 300:
            person(o, PractitionerRole.DOCTOR)
        for _ in range(1 + beds // 100):
            person(o, PractitionerRole.COOK)
    if leling := orgs.get("巴中市恩阳区乐龄社会工作服务中心"):
        person(leling, PractitionerRole.MANAGER)
        for _ in range(5):
            person(leling, PractitionerRole.SOCIAL_WORKER)
        for _ in range(8):
            person(leling, PractitionerRole.CAREGIVER, skills=caregiver_skills())
    if huikang := orgs.get("巴中市恩阳区惠康居家养老服务中心"):
        person(huikang, PractitionerRole.MANAGER)
        for _ in range(6):
            person(huikang, PractitionerRole.CAREGIVER, skills=caregiver_skills())
    if kitchen := orgs.get("巴中市恩阳区惠邻餐饮管理有限公司"):
        person(kitchen, PractitionerRole.MANAGER)
        for _ in range(8):
            person(kitchen, PractitionerRole.COOK)
    Practitioner.objects.bulk_create(rows, batch_size=500)
    caregivers = sum(1 for p in rows if p.organisation_id == provider.pk and p.role == PractitionerRole.CAREGIVER)
    log(f"practitioners: {len(rows)} staff; {provider.name} has {caregivers} caregivers "
        f"(the caregiver account is 赵桂兰)")


# ------------------------------------------------------------------------------------------------ elders


def _institutions() -> list[Institution]:
    places = {p.code: p for p in load_places()}
    result = []
    for f in Facility.objects.filter(region__code__startswith=DEMO_COUNTY, is_active=True, beds_total__gt=0,
                                     kind__in=[FacilityKind.CARE_HOME, FacilityKind.DESTITUTE_HOME]
                                     ).select_related("operator").order_by("name"):
        place = places.get(f.region_id)
        if place is None:
            continue
        lat = float(f.latitude) if f.latitude is not None else place.lat
        lon = float(f.longitude) if f.longitude is not None else place.lon
        result.append(Institution(name=f.name, place=place, address=f.address or place.prefix, lat=lat, lon=lon,
                                  public=bool(f.operator and f.operator.kind == OrganisationKind.PUBLIC),
                                  beds=f.beds_total))
    return result


def _community_codes(prefixes: list[str], per_county: int = 40) -> list[str]:
    codes: list[str] = []
    for prefix in prefixes:
        codes += list(Region.objects.filter(code__startswith=prefix, level="community")
                      .order_by("code").values_list("code", flat=True)[:per_county])
    return codes


_PINYIN: dict[str, tuple[str, str]] = {}


def _pinyin(name: str) -> tuple[str, str]:
    if name not in _PINYIN:
        _PINYIN[name] = name_pinyin(name)
    return _PINYIN[name]


def _write(specs: list[ElderSpec]) -> list[Elder]:
    elders = []
    for s in specs:
        e = Elder(
            name=s.name, phone=s.phone, hukou_region_id=s.hukou_code, residence_region_id=s.place.code,
            county_code=s.place.code[:6], address=s.address, latitude=_dec(s.lat), longitude=_dec(s.lon),
            living_situation=s.living, status=ElderStatus.ACTIVE, bank_name=s.bank_name,
            bank_account=s.bank_account, bank_account_holder=s.name if s.bank_account else "", notes=s.notes,
        )
        e.set_identity(s.id_number)
        e.name_pinyin, e.name_initials = _pinyin(s.name)
        elders.append(e)
    Elder.objects.bulk_create(elders, batch_size=500)
    categories, contacts = [], []
    for e, s in zip(elders, specs, strict=True):
        for kind, grade, start, end, note in s.categories:
            categories.append(ElderCategory(elder=e, kind=kind, grade=grade, start_date=start, end_date=end,
                                            note=note, county_code=e.county_code))
        for name, rel, phone, guardian, address in s.contacts:
            contacts.append(Contact(elder=e, name=name, relationship=rel, phone=phone, is_guardian=guardian,
                                    address=address))
    ElderCategory.objects.bulk_create(categories, batch_size=1000)
    Contact.objects.bulk_create(contacts, batch_size=1000)
    return elders


def _status_events(rng: random.Random, elders: list[Elder], places: list[Place], actor, today) -> dict:
    """A year's worth of changes at a few dozen people, through the real service (event, status, signal, audit)."""
    candidates = [e for e in elders[1:] if e.county_code == DEMO_COUNTY]
    n = len(elders)
    counts = {"death": max(1, round(n * 0.004)), "relocate": max(1, round(n * 0.0015)),
              "move_out": round(n * 0.0005), "suspend": max(1, round(n * 0.0005))}
    ages = [e.age_on(today) for e in candidates]
    dead = _weighted_sample(rng, candidates, [(a - 55) ** 2 for a in ages], counts["death"])
    dead_ids = {e.pk for e in dead}
    rest = [e for e in candidates if e.pk not in dead_ids]
    rng.shuffle(rest)
    movers = [e for e in rest if e.living_situation != LivingSituation.INSTITUTION]
    relocated, moved_out, suspended = [], [], []
    for e in movers:  # villagers move to the town; anyone may move away or be suspended
        if len(relocated) < counts["relocate"] and e.residence_region_id[9:] >= "200":
            relocated.append(e)
        elif len(moved_out) < counts["move_out"]:
            moved_out.append(e)
        elif len(suspended) < counts["suspend"]:
            suspended.append(e)
    towns = [p for p in places if not p.village]
    by_code = {p.code: p for p in places}

    def day():
        return today - datetime.timedelta(days=rng.randrange(1, 365))

    for e in dead:
        when = day()
        record_status_event(actor=actor, elder=e, kind=StatusEventKind.DEATH, effective_date=when,
                            note=rng.choice(["因病去世", "自然死亡", "家属报告死亡", "火化信息比对"]))
        ElderCategory.objects.filter(elder=e, end_date__isnull=True, start_date__lte=when).update(end_date=when)
    for e in relocated:
        home = by_code[e.residence_region_id]
        target = min((p for p in towns if p.code != home.code),
                     key=lambda p: (p.street_code != home.street_code, rng.random()))
        record_status_event(actor=actor, elder=e, kind=StatusEventKind.RELOCATE, effective_date=day(),
                            to_region=target.code, note=rng.choice(["随子女迁居场镇", "易地扶贫搬迁集中安置"]))
        lat, lon = _jitter(rng, target.lat, target.lon, 0.3)
        Elder.objects.filter(pk=e.pk).update(address=_address(rng, target), latitude=_dec(lat), longitude=_dec(lon))
    for e in moved_out:
        record_status_event(actor=actor, elder=e, kind=StatusEventKind.MOVE_OUT, effective_date=day(),
                            note=rng.choice(["随子女迁居成都市", "投靠子女迁往重庆市", "随子女迁居浙江省宁波市"]))
    for e in suspended:
        record_status_event(actor=actor, elder=e, kind=StatusEventKind.SUSPEND, effective_date=day(),
                            note=rng.choice(["长期外出，联系不上，暂停发放待遇", "户籍信息核查中，暂停发放"]))
    return {"death": len(dead), "relocate": len(relocated), "move_out": len(moved_out), "suspend": len(suspended)}


@demo_step
def registry_elders(ctx, log) -> None:
    """The older people: round(130,876 × scale), with categories, contacts, bank accounts and a year of events."""
    if Elder.objects.filter(Q(county_code=DEMO_COUNTY) | Q(hukou_region__code__startswith=DEMO_COUNTY)).exists():
        log("elders: the county already has elders, left as they are")
        return
    today = timezone.localdate()
    places = load_places()
    bazhou = [p for p in load_places("511902") if p.urban and not p.village]
    specs = generate_elders(
        seed=ctx.seed, scale=ctx.scale, today=today, places=places, bazhou_places=bazhou,
        institutions=_institutions(),
        hukou_bazhong=_community_codes(["511902", "511921", "511922", "511923"]),
        hukou_sichuan=_community_codes(["511302", "511321", "511381", "510802", "511722", "510104"], 20),
    )
    elders = _write(specs)
    family_elder = elders[0]
    family_user = ctx.accounts.get("family")
    if family_user is not None:
        FamilyLink.objects.get_or_create(user=family_user, elder=family_elder,
                                         defaults={"relationship": Relationship.SON})
    events = _status_events(_rng(ctx.seed, "events"), elders, places, ctx.accounts.get("bureau"), today)
    audit.record(actor=None, action=AuditAction.IMPORT, object_type="registry.elder", object_repr="演示城市",
                 region_code=DEMO_COUNTY, detail=f"演示数据：生成 {len(elders)} 名老年人（比例 {ctx.scale:g}）")

    n80 = sum(1 for s in specs if _age(s, today) >= 80)
    n100 = sum(1 for s in specs if _age(s, today) >= 100)
    destitute = [s for s in specs if any(c[0] == CategoryKind.DESTITUTE for c in s.categories)]
    central = sum(1 for s in destitute if s.living == LivingSituation.INSTITUTION)
    by_street: dict[tuple[str, str], int] = {}
    for s in specs:
        key = (s.place.street_code, s.place.street_name) if s.place.county_name == "恩阳区" else ("~", "巴州区")
        by_street[key] = by_street.get(key, 0) + 1
    log(f"elders: {len(specs)} aged 60+ ({n80} aged 80+, {n100} aged 100+), {len(destitute)} 特困 "
        f"({central} in institutions), {sum(1 for s in specs if s.place.county_name != '恩阳区')} living in 巴州区")
    log("elders by street: " + ", ".join(f"{name} {count}" for (_, name), count in sorted(by_street.items())))
    log(f"status events: {events['death']} deaths, {events['relocate']} moves in the county, "
        f"{events['move_out']} moved away, {events['suspend']} suspended")
    log(f"family: the family account's mother is {family_elder.name} ({family_elder.age_on(today)}, "
        f"{places[0].county_name}登科街道登科寺社区)")
