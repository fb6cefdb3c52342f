//! Business hours and holidays: named timetables queues follow in the
//! tenant's time zone. Checked with `sb_model::BusinessHours::problems`;
//! the routing task turns them into open and closed queues.

use sb_model::{BusinessHours, BusinessHoursId, Permission, RoutingRules, Text};
use sb_store::{BusinessHoursRow, Page};

use crate::{App, AppError, FieldError, Principal};

fn hours_problems(h: &BusinessHours) -> Result<(), AppError> {
    let problems: Vec<FieldError> = h
        .problems()
        .into_iter()
        .map(|(field, message)| FieldError {
            field: format!("hours.{field}"),
            message,
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(problems))
    }
}

fn to_json(h: &BusinessHours) -> Result<String, AppError> {
    serde_json::to_string(h).map_err(|e| AppError::Internal(e.to_string()))
}

impl App {
    pub async fn create_business_hours(
        &self,
        p: &Principal,
        name: Text,
        hours: BusinessHours,
    ) -> Result<BusinessHoursRow, AppError> {
        p.require(Permission::QueueManage)?;
        hours_problems(&hours)?;
        let now = self.now();
        let row = BusinessHoursRow {
            id: BusinessHoursId::from_uuid(self.new_uuid()),
            tenant_id: p.tenant_id,
            name: name.into_string(),
            hours: to_json(&hours)?,
            created_at: now,
            updated_at: now,
        };
        self.store()
            .insert_business_hours(&row, &p.audit(now))
            .await?;
        Ok(row)
    }

    pub async fn get_business_hours(
        &self,
        p: &Principal,
        id: BusinessHoursId,
    ) -> Result<BusinessHoursRow, AppError> {
        p.require(Permission::QueueRead)?;
        self.store()
            .get_business_hours(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("business hours"))
    }

    pub async fn list_business_hours(
        &self,
        p: &Principal,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<BusinessHoursRow>, AppError> {
        p.require(Permission::QueueRead)?;
        let (limit, after) = crate::page_args(limit, cursor)?;
        Ok(self
            .store()
            .list_business_hours(p.tenant_id, after, limit)
            .await?)
    }

    pub async fn update_business_hours(
        &self,
        p: &Principal,
        id: BusinessHoursId,
        name: Option<Text>,
        hours: Option<BusinessHours>,
    ) -> Result<BusinessHoursRow, AppError> {
        p.require(Permission::QueueManage)?;
        let mut row = self
            .store()
            .get_business_hours(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("business hours"))?;
        if let Some(h) = &hours {
            hours_problems(h)?;
            row.hours = to_json(h)?;
        }
        if let Some(n) = name {
            row.name = n.into_string();
        }
        row.updated_at = self.now();
        self.store()
            .update_business_hours(&row, &p.audit(row.updated_at))
            .await
            .map_err(AppError::from_store("business hours"))?;
        self.routing_changed(p).await;
        Ok(row)
    }

    /// Deletes business hours no queue follows.
    pub async fn delete_business_hours(
        &self,
        p: &Principal,
        id: BusinessHoursId,
    ) -> Result<(), AppError> {
        p.require(Permission::QueueManage)?;
        self.store()
            .get_business_hours(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("business hours"))?;
        let mut cursor = None;
        loop {
            let page = self.store().list_queues(p.tenant_id, cursor, 500).await?;
            for q in &page.items {
                let rules: RoutingRules =
                    serde_json::from_str(&q.routing_rules).unwrap_or_default();
                if rules.business_hours_id == Some(id) {
                    return Err(AppError::Conflict(format!(
                        "queue {} follows these business hours",
                        q.name
                    )));
                }
            }
            match page.next {
                Some(n) => cursor = n.parse().ok(),
                None => break,
            }
        }
        self.store()
            .delete_business_hours(p.tenant_id, id, &p.audit(self.now()))
            .await
            .map_err(AppError::from_store("business hours"))
    }
}
