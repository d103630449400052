"""The hub's business vocabulary: orders, money, statuses and the keys derived from them.

Nothing here knows about Temporal or any vendor; workflows, activities and connectors all speak these types.
"""
