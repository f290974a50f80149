import datetime

from yiyang.core import pii
from yiyang.registry import services


def id_number(birth: datetime.date, seq: int = 1, *, male: bool = True, county: str = "511903") -> str:
    """A valid 身份证号 for a birth date: sequence digits, sex digit (odd = male) and the check character."""
    sex_digit = (seq % 5) * 2 + (1 if male else 0)
    first17 = f"{county}{birth:%Y%m%d}{seq // 5 % 100:02d}{sex_digit}"
    return first17 + pii.id_check_char(first17)


def make_elder(actor, *, name="王秀英", birth=datetime.date(1940, 3, 8), seq=1, male=False,
               residence="511903001002", hukou=None, **fields):
    return services.register_elder(actor=actor, id_number=id_number(birth, seq, male=male), name=name,
                                   residence_region=residence, hukou_region=hukou or residence, **fields)
