from django.dispatch import Signal

# Sent inside the transaction that records a status event (death, move, suspension …), so that other
# domains stop what must stop (benefits, open orders, visit plans) atomically with it.
# kwargs: elder, event, actor
elder_status_changed = Signal()
