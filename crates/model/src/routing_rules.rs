//! The routing rules of a queue as configured: which skills a contact needs,
//! how the requirement widens with waiting time, and where it overflows.
//! The routing engine gives these their meaning; this module only fixes
//! their shape and the rules that need nothing outside the value itself.

use serde::{Deserialize, Serialize};

use crate::{BusinessHoursId, QueueId, SkillId};

/// A skill a contact needs, at least at this proficiency (1–10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillRequirement {
    pub skill_id: SkillId,
    pub min_proficiency: i64,
}

/// After `after_seconds` of waiting, the requirement becomes `required_skills`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    pub after_seconds: i64,
    pub required_skills: Vec<SkillRequirement>,
}

/// Send contacts to `queue_id` after a wait or above a queue length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overflow {
    pub queue_id: QueueId,
    #[serde(default)]
    pub after_seconds: Option<i64>,
    #[serde(default)]
    pub queue_length_over: Option<i64>,
}

/// What a contact arriving outside business hours meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedActionName {
    /// A closed message, then the contact ends.
    Close,
    Voicemail,
    /// The customer is called back when an agent is free.
    Callback,
    /// Sent on to `queue_id`.
    Overflow,
}

/// What a contact that reaches the queue's maximum wait meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxWaitActionName {
    /// The customer keeps their place and is called back.
    Callback,
    Voicemail,
    /// A polite message, then the contact ends.
    Close,
}

/// Max-wait actions by channel; defaults: callback for voice, close for
/// the written channels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxWaitActions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<MaxWaitActionName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<MaxWaitActionName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<MaxWaitActionName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<MaxWaitActionName>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenClosed {
    pub action: ClosedActionName,
    #[serde(default)]
    pub queue_id: Option<QueueId>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRules {
    #[serde(default)]
    pub required_skills: Vec<SkillRequirement>,
    #[serde(default)]
    pub escalation: Vec<EscalationStep>,
    #[serde(default)]
    pub overflow: Option<Overflow>,
    /// The business hours the queue keeps; none means always open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_hours_id: Option<BusinessHoursId>,
    /// What arrivals meet while closed (default: close).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_closed: Option<WhenClosed>,
    /// Waiting voice and chat contacts are told their place and expected
    /// wait every this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce_every_seconds: Option<i64>,
    /// An eligibility condition over agent and contact attributes, e.g.
    /// `skills HAS 'billing' AND language == task.language`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// What reaching `max_wait_seconds` does, by channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_action: Option<MaxWaitActions>,
    /// A contact kept for a requested agent (the customer's last agent)
    /// is opened to every eligible agent after this many seconds; absent,
    /// it waits for that agent alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_agent_seconds: Option<i64>,
    /// Written contacts (email): a person's first answer is due this many
    /// seconds after the contact arrives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_seconds: Option<i64>,
    /// Written contacts (email): the contact is due to be over this many
    /// seconds after it arrives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_seconds: Option<i64>,
}

/// The longest first-response or resolution time a queue may set (30 days).
pub const MAX_WRITTEN_SLA_SECONDS: i64 = 30 * 86_400;

/// Limits on the size of a rule set.
pub const MAX_SKILLS_PER_STEP: usize = 32;
pub const MAX_ESCALATION_STEPS: usize = 16;

impl RoutingRules {
    /// Checks what can be checked without the store; returns (field path,
    /// message) pairs. Whether the skills and queues exist is the caller's.
    pub fn problems(&self, own_queue: Option<QueueId>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let check_skills =
            |path: &str, skills: &[SkillRequirement], out: &mut Vec<(String, String)>| {
                if skills.len() > MAX_SKILLS_PER_STEP {
                    out.push((
                        path.to_owned(),
                        format!("at most {MAX_SKILLS_PER_STEP} skills"),
                    ));
                }
                for (i, s) in skills.iter().enumerate() {
                    if !(1..=10).contains(&s.min_proficiency) {
                        out.push((
                            format!("{path}[{i}].min_proficiency"),
                            "must be from 1 to 10".into(),
                        ));
                    }
                    if skills[..i].iter().any(|o| o.skill_id == s.skill_id) {
                        out.push((format!("{path}[{i}].skill_id"), "is listed twice".into()));
                    }
                }
            };
        check_skills(
            "routing_rules.required_skills",
            &self.required_skills,
            &mut out,
        );
        if self.escalation.len() > MAX_ESCALATION_STEPS {
            out.push((
                "routing_rules.escalation".into(),
                format!("at most {MAX_ESCALATION_STEPS} steps"),
            ));
        }
        let mut last = 0;
        for (i, step) in self.escalation.iter().enumerate() {
            if step.after_seconds <= last {
                out.push((
                    format!("routing_rules.escalation[{i}].after_seconds"),
                    "must be positive and later than the step before".into(),
                ));
            }
            last = step.after_seconds.max(last);
            check_skills(
                &format!("routing_rules.escalation[{i}].required_skills"),
                &step.required_skills,
                &mut out,
            );
        }
        if let Some(o) = &self.overflow {
            if Some(o.queue_id) == own_queue {
                out.push((
                    "routing_rules.overflow.queue_id".into(),
                    "cannot overflow to the same queue".into(),
                ));
            }
            if o.after_seconds.is_none() && o.queue_length_over.is_none() {
                out.push((
                    "routing_rules.overflow".into(),
                    "needs after_seconds or queue_length_over".into(),
                ));
            }
            if o.after_seconds.is_some_and(|s| s <= 0) {
                out.push((
                    "routing_rules.overflow.after_seconds".into(),
                    "must be positive".into(),
                ));
            }
            if o.queue_length_over.is_some_and(|s| s <= 0) {
                out.push((
                    "routing_rules.overflow.queue_length_over".into(),
                    "must be positive".into(),
                ));
            }
        }
        if let Some(w) = &self.when_closed {
            match (w.action, w.queue_id) {
                (ClosedActionName::Overflow, None) => out.push((
                    "routing_rules.when_closed.queue_id".into(),
                    "is needed to overflow".into(),
                )),
                (ClosedActionName::Overflow, Some(q)) if Some(q) == own_queue => out.push((
                    "routing_rules.when_closed.queue_id".into(),
                    "cannot overflow to the same queue".into(),
                )),
                (ClosedActionName::Overflow, Some(_)) | (_, None) => {}
                (_, Some(_)) => out.push((
                    "routing_rules.when_closed.queue_id".into(),
                    "is only for the overflow action".into(),
                )),
            }
        }
        if self
            .requested_agent_seconds
            .is_some_and(|s| !(1..=86_400).contains(&s))
        {
            out.push((
                "routing_rules.requested_agent_seconds".into(),
                "must be from 1 to 86400".into(),
            ));
        }
        if self
            .announce_every_seconds
            .is_some_and(|s| !(10..=3_600).contains(&s))
        {
            out.push((
                "routing_rules.announce_every_seconds".into(),
                "must be from 10 to 3600".into(),
            ));
        }
        for (name, v) in [
            ("first_response_seconds", self.first_response_seconds),
            ("resolution_seconds", self.resolution_seconds),
        ] {
            if v.is_some_and(|s| !(1..=MAX_WRITTEN_SLA_SECONDS).contains(&s)) {
                out.push((
                    format!("routing_rules.{name}"),
                    format!("must be from 1 to {MAX_WRITTEN_SLA_SECONDS}"),
                ));
            }
        }
        out
    }

    /// Every skill the rules mention.
    pub fn skill_ids(&self) -> Vec<SkillId> {
        let mut v: Vec<SkillId> = self
            .required_skills
            .iter()
            .chain(
                self.escalation
                    .iter()
                    .flat_map(|s| s.required_skills.iter()),
            )
            .map(|s| s.skill_id)
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn skill(n: u128) -> SkillId {
        SkillId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn rules_report_each_problem_by_path() {
        let q = QueueId::from_uuid(Uuid::from_u128(9));
        let rules = RoutingRules {
            required_skills: vec![
                SkillRequirement {
                    skill_id: skill(1),
                    min_proficiency: 0,
                },
                SkillRequirement {
                    skill_id: skill(1),
                    min_proficiency: 5,
                },
            ],
            escalation: vec![
                EscalationStep {
                    after_seconds: 30,
                    required_skills: vec![],
                },
                EscalationStep {
                    after_seconds: 30,
                    required_skills: vec![],
                },
            ],
            overflow: Some(Overflow {
                queue_id: q,
                after_seconds: None,
                queue_length_over: None,
            }),
            ..Default::default()
        };
        let paths: Vec<String> = rules.problems(Some(q)).into_iter().map(|p| p.0).collect();
        assert_eq!(
            paths,
            vec![
                "routing_rules.required_skills[0].min_proficiency",
                "routing_rules.required_skills[1].skill_id",
                "routing_rules.escalation[1].after_seconds",
                "routing_rules.overflow.queue_id",
                "routing_rules.overflow",
            ]
        );
        assert!(RoutingRules::default().problems(None).is_empty());
        assert_eq!(rules.skill_ids(), vec![skill(1)]);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<RoutingRules>(r#"{"required_skill": []}"#).is_err());
    }
}
