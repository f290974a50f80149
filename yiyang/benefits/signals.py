from django.dispatch import Signal

# Sent inside the transaction that approves a roll, after it is marked approved, so that other domains act on
# the approved lines atomically with the approval (services: a 服务补贴 roll credits the elders' allowances).
# kwargs: roll, actor
roll_approved = Signal()
