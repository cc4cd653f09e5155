"""Every conversation's clock: the deadlines the hub acts on, and the scheduler running them.

Deadlines live in database rows. Each sweep claims the rows that are due in the same
transaction that acts on them (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's single
write lock), so a sweep that fires twice, late, or in two hub processes at once does the
work once, and a hub that was down acts on what came due meanwhile when it starts.
"""
