"""The booking core: restaurants, tables, availability, reservations, waitlist and the ledger."""
