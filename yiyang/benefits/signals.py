from django.dispatch import Signal

# Sent inside the transaction that approves a roll, after it is marked approved, so that other domains act on
# the approved lines atomically with the approval (services: a 服务补贴 roll credits the elders' allowances).
# kwargs: roll, actor
roll_approved = Signal()

# Sent after a roll's checks are computed (inside its generation), so that other domains act on the doubts
# (visits: a "长期无服务或探访" check raises a visit within 24 hours). kwargs: roll
roll_checked = Signal()
