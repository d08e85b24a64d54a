"""Clients that still rely on a KSeF token, which stops working after 31.12.2026.

Tokens cannot request certificates (KSeF refuses it with 25001/25002), so for these clients
the portal can only ask: a banner on the client page and a marker on the client's row
(selectors + certificates/templatetags/token_tags.py), a count on the dashboard and a weekly
reminder e-mail with a self-upload link (reminders.py, tasks.py).
"""
