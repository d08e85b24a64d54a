"""The invoice lists: office-wide ("Faktury") and per client, their filters, search, sort,
paging and "new since I last looked" (filters.py: the selection; services.py: the visits)."""
