DROP TABLE points_ledger;
DROP TABLE support_tickets;
