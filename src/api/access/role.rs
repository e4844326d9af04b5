//! Roles of API tokens, from least to most trusted.

/// What a token may do; each role may do everything the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Role {
    /// Reads figures: status, report, queue, calls, the event stream; personal data masked.
    Monitor,
    /// Also changes agents' states and sees agents' phones, callers' numbers and names.
    Supervisor,
    /// Everything, typed digits included.
    Admin,
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Monitor => "monitor",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// Reads a stored role name.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "monitor" => Some(Role::Monitor),
            "supervisor" => Some(Role::Supervisor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Whether this role may use a route that needs `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_allows_its_own_routes_and_those_below() {
        use Role::*;
        assert!(Monitor.allows(Monitor));
        assert!(!Monitor.allows(Supervisor));
        assert!(!Monitor.allows(Admin));
        assert!(Supervisor.allows(Monitor));
        assert!(Supervisor.allows(Supervisor));
        assert!(!Supervisor.allows(Admin));
        assert!(Admin.allows(Monitor) && Admin.allows(Supervisor) && Admin.allows(Admin));
    }

    #[test]
    fn role_names_read_back() {
        for role in [Role::Monitor, Role::Supervisor, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::parse("Admin"), None);
    }
}
