//! Customers and prospects: the records agents keep current, with the
//! history of every status change.

use sb_model::{
    CustomerId, CustomerKind, CustomerStatus, EmailAddress, Permission, PhoneNumber, Text,
};
use sb_store::{Customer, CustomerFilter, Page, StatusChange};

use crate::{App, AppError, Principal};

#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub kind: CustomerKind,
    pub name: Text,
    pub email: Option<EmailAddress>,
    pub phone: Option<PhoneNumber>,
    pub status: CustomerStatus,
    pub external_ref: Option<Text>,
}

/// A change to a customer; `Some(None)` clears an optional field.
#[derive(Debug, Clone, Default)]
pub struct CustomerPatch {
    pub kind: Option<CustomerKind>,
    pub name: Option<Text>,
    pub email: Option<Option<EmailAddress>>,
    pub phone: Option<Option<PhoneNumber>>,
    pub status: Option<CustomerStatus>,
    pub external_ref: Option<Option<Text>>,
}

impl App {
    pub async fn create_customer(
        &self,
        p: &Principal,
        c: NewCustomer,
    ) -> Result<Customer, AppError> {
        p.require(Permission::CustomerWrite)?;
        let now = self.now();
        let customer = Customer {
            id: CustomerId::from_uuid(self.new_uuid()),
            tenant_id: p.tenant_id,
            kind: c.kind,
            name: c.name.into_string(),
            email: c.email.map(|e| e.as_str().to_owned()),
            phone: c.phone.map(|e| e.as_str().to_owned()),
            status: c.status,
            external_ref: c.external_ref.map(Text::into_string),
            created_at: now,
            updated_at: now,
        };
        self.store()
            .insert_customer(&customer, &p.audit(now))
            .await?;
        Ok(customer)
    }

    pub async fn get_customer(&self, p: &Principal, id: CustomerId) -> Result<Customer, AppError> {
        p.require(Permission::CustomerRead)?;
        self.store()
            .get_customer(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("customer"))
    }

    pub async fn list_customers(
        &self,
        p: &Principal,
        f: &CustomerFilter,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<Customer>, AppError> {
        p.require(Permission::CustomerRead)?;
        let (limit, after) = crate::page_args(limit, cursor)?;
        Ok(self
            .store()
            .list_customers(p.tenant_id, f, after, limit)
            .await?)
    }

    pub async fn update_customer(
        &self,
        p: &Principal,
        id: CustomerId,
        patch: CustomerPatch,
    ) -> Result<Customer, AppError> {
        p.require(Permission::CustomerWrite)?;
        let mut c = self
            .store()
            .get_customer(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("customer"))?;
        let previous = c.status;
        if let Some(v) = patch.kind {
            c.kind = v;
        }
        if let Some(v) = patch.name {
            c.name = v.into_string();
        }
        if let Some(v) = patch.email {
            c.email = v.map(|e| e.as_str().to_owned());
        }
        if let Some(v) = patch.phone {
            c.phone = v.map(|e| e.as_str().to_owned());
        }
        if let Some(v) = patch.status {
            c.status = v;
        }
        if let Some(v) = patch.external_ref {
            c.external_ref = v.map(Text::into_string);
        }
        c.updated_at = self.now();
        self.store()
            .update_customer(&c, previous, &p.audit(c.updated_at))
            .await
            .map_err(AppError::from_store("customer"))?;
        Ok(c)
    }

    pub async fn customer_status_history(
        &self,
        p: &Principal,
        id: CustomerId,
    ) -> Result<Vec<StatusChange>, AppError> {
        p.require(Permission::CustomerRead)?;
        // Existence first, so another tenant's id is a plain 404.
        self.store()
            .get_customer(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("customer"))?;
        Ok(self
            .store()
            .customer_status_history(p.tenant_id, id)
            .await?)
    }
}
