from django.dispatch import Signal

# Sent inside the transaction that ends an order without its service (declined by the provider, or nobody came
# or nobody was home), so that higher domains react atomically with it (visits: someone checks on the person
# within 24 hours). kwargs: order, actor
order_unserved = Signal()
