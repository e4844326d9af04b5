-- The flow each call ran: the published version it started with, the way it
-- took through the nodes and keys, and how it left the flow (containment,
-- auto-registration and transfer-to-agent figures are counted from these).

ALTER TABLE calls ADD COLUMN flow_version TEXT;
ALTER TABLE calls ADD COLUMN flow_outcome TEXT;
ALTER TABLE calls ADD COLUMN path TEXT;
