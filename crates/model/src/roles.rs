//! Roles and the permission matrix: the one place that says which role may
//! do what. The HTTP layer asks [`RoleSet::allows`] and nothing else.

use serde::{Deserialize, Serialize};

use crate::kinds::name_enum;

name_enum!(
    /// What a user does in the centre. A user may hold several.
    Role {
        Agent => "agent",
        TeamLeader => "team_leader",
        Trainer => "trainer",
        WorkforcePlanner => "workforce_planner",
        Admin => "admin",
    }
);

/// Everything the API guards. Reads and writes are separate so that a role
/// can see what it needs without being able to change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    TenantRead,
    TenantManage,
    UserRead,
    UserManage,
    TokenManage,
    SkillRead,
    SkillManage,
    AgentRead,
    AgentManage,
    /// Change an agent's skills and proficiencies (team leaders allocating duties).
    AgentAllocate,
    QueueRead,
    QueueManage,
    CustomerRead,
    CustomerWrite,
    ContactRead,
    ContactWrite,
    AuditRead,
    /// Queue and agent performance reports.
    ReportRead,
    /// Agents' contracts, and building and publishing rosters.
    RosterManage,
    /// The voice channel: dialled numbers, carrier trunks, agents' phones.
    VoiceManage,
    /// Listen to call recordings.
    RecordingListen,
    /// Listen in on, whisper to or barge into calls in progress.
    CallMonitor,
}

impl Permission {
    pub const ALL: &'static [Permission] = &[
        Permission::TenantRead,
        Permission::TenantManage,
        Permission::UserRead,
        Permission::UserManage,
        Permission::TokenManage,
        Permission::SkillRead,
        Permission::SkillManage,
        Permission::AgentRead,
        Permission::AgentManage,
        Permission::AgentAllocate,
        Permission::QueueRead,
        Permission::QueueManage,
        Permission::CustomerRead,
        Permission::CustomerWrite,
        Permission::ContactRead,
        Permission::ContactWrite,
        Permission::AuditRead,
        Permission::ReportRead,
        Permission::RosterManage,
        Permission::VoiceManage,
        Permission::RecordingListen,
        Permission::CallMonitor,
    ];
}

impl Role {
    /// The permission matrix. Each role gets what its work needs:
    /// agents handle contacts and keep customer records current; team leaders
    /// also see users and allocate agents' skills; trainers and planners read
    /// what they coach and plan from; admins configure everything.
    pub fn allows(self, p: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Admin => true,
            Role::Agent => matches!(
                p,
                P::TenantRead
                    | P::SkillRead
                    | P::AgentRead
                    | P::QueueRead
                    | P::CustomerRead
                    | P::CustomerWrite
                    | P::ContactRead
                    | P::ContactWrite
            ),
            Role::TeamLeader => matches!(
                p,
                P::TenantRead
                    | P::UserRead
                    | P::SkillRead
                    | P::AgentRead
                    | P::AgentAllocate
                    | P::QueueRead
                    | P::CustomerRead
                    | P::CustomerWrite
                    | P::ContactRead
                    | P::ContactWrite
                    | P::ReportRead
                    | P::RosterManage
                    | P::RecordingListen
                    | P::CallMonitor
            ),
            // Planners read what trainers read, and keep contracts and rosters.
            Role::WorkforcePlanner => {
                p == P::RosterManage || p != P::RecordingListen && Role::Trainer.allows(p)
            }
            Role::Trainer => matches!(
                p,
                P::TenantRead
                    | P::UserRead
                    | P::SkillRead
                    | P::AgentRead
                    | P::QueueRead
                    | P::CustomerRead
                    | P::ContactRead
                    | P::ReportRead
                    | P::RecordingListen
            ),
        }
    }
}

/// The roles of one user: never empty, no duplicates, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RoleSet(Vec<Role>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleSetError {
    #[error("a user needs at least one role")]
    Empty,
    #[error(transparent)]
    Unknown(#[from] crate::kinds::UnknownName),
}

impl RoleSet {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Result<Self, RoleSetError> {
        let mut v: Vec<Role> = roles.into_iter().collect();
        v.sort();
        v.dedup();
        if v.is_empty() {
            return Err(RoleSetError::Empty);
        }
        Ok(RoleSet(v))
    }

    /// Parses the stored form: role names separated by commas.
    pub fn parse_list(s: &str) -> Result<Self, RoleSetError> {
        let roles = s
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Role>, _>>()?;
        Self::new(roles)
    }

    /// The stored form: role names separated by commas.
    pub fn to_list(&self) -> String {
        self.0
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn roles(&self) -> &[Role] {
        &self.0
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    /// A user may do what any of their roles may do.
    pub fn allows(&self, p: Permission) -> bool {
        self.0.iter().any(|r| r.allows(p))
    }
}

/// Storage rows hold roles as a comma-separated list.
impl TryFrom<String> for RoleSet {
    type Error = RoleSetError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse_list(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_may_do_everything_and_others_less() {
        for p in Permission::ALL {
            assert!(Role::Admin.allows(*p));
        }
        for r in [
            Role::Agent,
            Role::TeamLeader,
            Role::Trainer,
            Role::WorkforcePlanner,
        ] {
            assert!(!r.allows(Permission::UserManage), "{r}");
            assert!(!r.allows(Permission::AuditRead), "{r}");
            assert!(!r.allows(Permission::QueueManage), "{r}");
            assert!(!r.allows(Permission::VoiceManage), "{r}");
            assert!(r.allows(Permission::QueueRead), "{r}");
        }
        assert!(!Role::Agent.allows(Permission::AgentAllocate));
        assert!(Role::TeamLeader.allows(Permission::AgentAllocate));
        assert!(!Role::Trainer.allows(Permission::CustomerWrite));
        for r in [Role::TeamLeader, Role::Trainer] {
            assert!(r.allows(Permission::RecordingListen), "{r}");
        }
        for r in [Role::Agent, Role::WorkforcePlanner] {
            assert!(!r.allows(Permission::RecordingListen), "{r}");
        }
        assert!(Role::TeamLeader.allows(Permission::CallMonitor));
        for r in [Role::Agent, Role::Trainer, Role::WorkforcePlanner] {
            assert!(!r.allows(Permission::CallMonitor), "{r}");
        }
    }

    #[test]
    fn role_sets_are_sorted_deduplicated_and_never_empty() {
        let s = RoleSet::parse_list("admin, agent,agent").unwrap();
        assert_eq!(s.to_list(), "agent,admin");
        assert!(s.allows(Permission::AuditRead));
        assert_eq!(RoleSet::parse_list(" , "), Err(RoleSetError::Empty));
        assert!(matches!(
            RoleSet::parse_list("boss"),
            Err(RoleSetError::Unknown(_))
        ));
    }
}
