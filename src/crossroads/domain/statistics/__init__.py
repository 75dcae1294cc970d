"""Statistics: the warehouse's pseudonyms, its marts, and the protections of what leaves it
(docs/statistics.md)."""
