//! Labels on conversations: any agent who sees a conversation adds and removes them, by
//! id or by name.

use chrono::Utc;
use switchboard_domain::label::LabelName;
use switchboard_domain::{ConversationId, LabelId};
use switchboard_store::{Agent, AppliedLabel, Label, StoreError};

use super::{Inbox, InboxError, Invalid};

/// Most labels named in one request.
pub const LABELS_MAX: usize = 50;

/// Resolves label ids or names (case-insensitively) against `all`, naming each entry that
/// matches none as `{field}[i]`. Duplicates are dropped.
fn resolve(all: &[Label], entries: &[String], field: &str) -> Result<Vec<LabelId>, InboxError> {
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let by_id = entry.trim().parse::<LabelId>().ok().and_then(|id| all.iter().find(|l| l.id == id));
        let by_name = || {
            let key = LabelName::parse(entry).ok()?.key();
            all.iter().find(|l| l.name.key() == key)
        };
        match by_id.or_else(by_name) {
            Some(l) if !ids.contains(&l.id) => ids.push(l.id),
            Some(_) => {}
            None => errors.push(Invalid::new(format!("{field}[{i}]"), "no label has this id or name")),
        }
    }
    if errors.is_empty() { Ok(ids) } else { Err(InboxError::Invalid(errors)) }
}

impl Inbox<'_> {
    /// Resolves label ids or names (case-insensitively) to labels, naming each entry that
    /// matches none as `{field}[i]`; at most [`LABELS_MAX`]. Duplicates are dropped.
    pub async fn resolve_labels(&self, entries: &[String], field: &str) -> Result<Vec<LabelId>, InboxError> {
        if entries.len() > LABELS_MAX {
            return Err(InboxError::invalid(field, format!("at most {LABELS_MAX} labels")));
        }
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        resolve(&self.store.labels().await?, entries, field)
    }

    /// Puts labels (by id or name, the field `labels`) on a conversation; answers all its
    /// labels.
    pub async fn add_labels(
        &self,
        agent: &Agent,
        conversation: ConversationId,
        entries: &[String],
    ) -> Result<Vec<AppliedLabel>, InboxError> {
        if entries.is_empty() {
            return Err(InboxError::invalid("labels", "name at least one label (by id or name)"));
        }
        let labels = self.resolve_labels(entries, "labels").await?;
        self.store.add_conversation_labels(conversation, &labels, Some(agent.id), Utc::now()).await.map_err(
            |e| match e {
                // A label deleted meanwhile, or the conversation erased.
                StoreError::NotFound => InboxError::NotFound { what: "conversation or label" },
                e => e.into(),
            },
        )?;
        tracing::debug!(conversation_id = %conversation, agent_id = %agent.id, added = labels.len(), "labels added");
        Ok(self.store.conversation_labels(conversation).await?)
    }

    /// Takes a label off a conversation; idempotent (whether it was on it).
    pub async fn remove_label(
        &self,
        agent: &Agent,
        conversation: ConversationId,
        label: LabelId,
    ) -> Result<bool, InboxError> {
        let removed = self.store.remove_conversation_label(conversation, label).await?;
        tracing::debug!(conversation_id = %conversation, label_id = %label, agent_id = %agent.id, removed, "label removed");
        Ok(removed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::Utc;
    use switchboard_domain::LabelId;
    use switchboard_domain::label::{LabelColour, LabelName};
    use switchboard_store::Label;

    use super::resolve;
    use crate::inbox::InboxError;

    fn label(name: &str) -> Label {
        Label {
            id: LabelId::new(),
            name: LabelName::parse(name).unwrap(),
            colour: LabelColour::default(),
            description: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn labels_are_named_by_id_or_by_name_regardless_of_case_once_each() {
        let (vip, late) = (label("VIP"), label("Late payment"));
        let all = [vip.clone(), late.clone()];
        let entries = ["vip".to_owned(), late.id.to_string(), "Late Payment".to_owned(), "VIP".to_owned()];
        assert_eq!(resolve(&all, &entries, "labels").unwrap(), [vip.id, late.id]);
    }

    #[test]
    fn each_unknown_label_is_named_by_its_place() {
        let all = [label("VIP")];
        let entries = ["vip".to_owned(), "nope".to_owned(), LabelId::new().to_string()];
        let Err(InboxError::Invalid(errors)) = resolve(&all, &entries, "label") else { panic!("invalid") };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["label[1]", "label[2]"]);
    }
}
