//! crm
