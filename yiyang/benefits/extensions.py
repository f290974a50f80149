"""What this app adds to the register's pages (through yiyang.core.registry; the register never imports us)."""


def elder_benefits_panel(request, elder) -> dict:
    """The elder page's section: every benefit line of the person, newest first."""
    from .models import Roll
    from .selectors import elder_history

    user = getattr(request, "user", None)
    lines = elder_history(user, elder) if user is not None else []
    # A month links to its roll when the reader may open that roll (region staff, not the family).
    rolls = set(Roll.objects.restrict(user).filter(pk__in={ln.roll_id for ln in lines}).values_list("pk", flat=True)
                ) if lines else set()
    return {"template": "benefits/_elder_benefits.html", "elder": elder,
            "lines": [{"line": ln, "explanation": ln.explain(), "roll_link": ln.roll_id in rolls} for ln in lines]}
