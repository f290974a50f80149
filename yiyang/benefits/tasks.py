"""Background work of the benefits app (Django's tasks API, database queue)."""

from django_tasks import task


@task()
def generate_roll_task(roll_id: int, actor_id: int | None = None) -> int:
    """Generate (or finish generating) a large roll; the roll page shows its progress meanwhile."""
    from django.contrib.auth import get_user_model

    from .models import Roll
    from .services import generate_roll

    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    roll = generate_roll(actor=actor, roll=Roll.objects.select_related("programme", "jurisdiction").get(pk=roll_id))
    return roll.line_count
