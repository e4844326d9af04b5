-- The CRM's own number of a delivered ticket, when its API answers with one.
ALTER TABLE tickets ADD COLUMN crm_number TEXT;
