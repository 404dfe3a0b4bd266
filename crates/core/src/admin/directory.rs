//! Labels (their names, colours, descriptions) and contacts' details.

use chrono::Utc;
use switchboard_domain::{ContactId, LabelId};
use switchboard_store::{
    Contact, ContactPatch, ContactPatchOutcome, Label, LabelPatch, MAX_CONTACT_ATTRIBUTES, NewLabel,
};

use super::{AdminError, Config};

impl Config<'_> {
    /// Creates a label (names are unique regardless of case).
    pub async fn create_label(&self, label: &NewLabel) -> Result<Label, AdminError> {
        Ok(self.store.create_label(label).await?)
    }

    /// Renames, recolours or redescribes a label.
    pub async fn update_label(&self, id: LabelId, patch: &LabelPatch) -> Result<Label, AdminError> {
        self.store.update_label(id, patch).await.map_err(AdminError::not_found("label"))
    }

    /// Deletes a label and takes it off every conversation.
    pub async fn delete_label(&self, id: LabelId) -> Result<(), AdminError> {
        self.store.delete_label(id).await.map_err(AdminError::not_found("label"))
    }

    /// Renames a contact or changes their custom attributes (at most
    /// [`MAX_CONTACT_ATTRIBUTES`]: invalid `attributes`).
    pub async fn update_contact(&self, id: ContactId, patch: &ContactPatch) -> Result<Contact, AdminError> {
        match self.store.update_contact(id, patch, Utc::now()).await? {
            ContactPatchOutcome::Updated(c) => Ok(c),
            ContactPatchOutcome::NotFound => Err(AdminError::NotFound { what: "contact" }),
            ContactPatchOutcome::TooManyAttributes { count } => Err(AdminError::invalid(
                "attributes",
                format!("a contact has at most {MAX_CONTACT_ATTRIBUTES} attributes; this would make {count}"),
            )),
        }
    }
}
