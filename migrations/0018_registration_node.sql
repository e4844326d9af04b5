-- On a cluster, the node whose registrar keeps a binding (its `[cluster]
-- node_id`; empty on a single node): each node replaces only its own rows, so
-- an agent's browser kept by one node and desk phone kept by the ACD's node
-- do not erase each other.
ALTER TABLE agent_registrations ADD COLUMN node TEXT NOT NULL DEFAULT '';
