-- Where a call came in: `sip` (a phone or trunk) or `web` (a browser, from a
-- web page's "call us" widget), so reports can count calls by channel. Calls
-- recorded before this column existed all came over SIP.
ALTER TABLE calls ADD COLUMN channel TEXT NOT NULL DEFAULT 'sip';
