//! Private notes on a conversation, with @mentions.
//!
//! Notes are for agents only: they never reach the outbox or WhatsApp. A mention is `@`
//! followed by an agent's e-mail address (`@sam@example.com`), resolved to the agent when
//! the note is written; an address that is no active agent's makes the note invalid
//! (naming `text`). Whoever may see the conversation may write its notes; a note is
//! deleted by its author or an admin.
//!
//! A mention is *unseen* until the mentioned agent opens the conversation (the console's
//! page, or the API's `POST /conversations/{id}/mentions/seen`): then every mention of
//! them in it is seen. The Mentions view lists the conversations with unseen mentions.

use chrono::Utc;
use switchboard_domain::{AgentRole, ConversationId, Email};
use switchboard_store::{Agent, NewNote, Note};

use super::{Inbox, InboxError};

/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 10_000;
/// The most agents one note mentions.
pub const MAX_MENTIONS: usize = 50;

/// The e-mail addresses a note mentions, lower-cased, in order, without duplicates: an
/// `@` at the start or after a character that cannot be part of an address, followed by
/// an address (trailing sentence punctuation is not part of it).
#[must_use]
pub fn mentioned_emails(text: &str) -> Vec<Email> {
    let stops = |c: char| {
        c.is_whitespace() || matches!(c, ',' | ';' | ':' | '!' | '?' | '(' | ')' | '[' | ']' | '<' | '>' | '"' | '\'')
    };
    let mut out: Vec<Email> = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        let starts = c == '@' && !prev.is_some_and(|p| p.is_alphanumeric() || matches!(p, '.' | '_' | '-' | '+' | '@'));
        prev = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[i + c.len_utf8()..];
        let end = rest.find(stops).unwrap_or(rest.len());
        let token = rest[..end].trim_end_matches(['.', '…']);
        if !token.contains('@') {
            continue;
        }
        if let Ok(email) = Email::parse(token)
            && !out.contains(&email)
        {
            out.push(email);
        }
    }
    out
}

impl Inbox<'_> {
    /// Adds `author`'s note to a conversation (the text is trimmed); `@email` mentions
    /// resolve to active agents.
    pub async fn add_note(
        &self,
        author: &Agent,
        conversation: ConversationId,
        text: Option<&str>,
    ) -> Result<Note, InboxError> {
        let text = text.map(str::trim).unwrap_or_default();
        let n = text.chars().count();
        if n == 0 || n > MAX_NOTE_CHARS {
            return Err(InboxError::invalid("text", format!("is required: 1 to {MAX_NOTE_CHARS} characters")));
        }
        let emails = mentioned_emails(text);
        if emails.len() > MAX_MENTIONS {
            return Err(InboxError::invalid("text", format!("mentions more than {MAX_MENTIONS} agents")));
        }
        let mut mentions = Vec::with_capacity(emails.len());
        if !emails.is_empty() {
            let agents = self.store.agents().await?;
            let mut unknown = Vec::new();
            for email in &emails {
                match agents.iter().find(|a| a.active && a.email == *email) {
                    Some(a) if !mentions.contains(&a.id) => mentions.push(a.id),
                    Some(_) => {}
                    None => unknown.push(format!("@{}", email.as_str())),
                }
            }
            if !unknown.is_empty() {
                return Err(InboxError::invalid(
                    "text",
                    format!("mentions {} which is no active agent's e-mail address", unknown.join(", ")),
                ));
            }
        }
        let note = self
            .store
            .create_note(&NewNote {
                conversation_id: conversation,
                author_id: author.id,
                text: text.to_owned(),
                mentions,
                at: Utc::now(),
            })
            .await
            .map_err(InboxError::not_found("conversation"))?;
        tracing::info!(conversation_id = %conversation, note_id = %note.id, by = %author.id, mentions = note.mentions.len(), "note added");
        Ok(note)
    }

    /// `agent` has seen the conversation: their mentions in it are no longer unseen.
    /// How many were (0 when there were none, which writes nothing). Visibility is the
    /// caller's to check, as for every use case here.
    pub async fn mentions_seen(&self, agent: &Agent, conversation: ConversationId) -> Result<u64, InboxError> {
        let n = self.store.mark_mentions_seen(agent.id, conversation, Utc::now()).await?;
        if n > 0 {
            tracing::debug!(conversation_id = %conversation, agent_id = %agent.id, mentions = n, "mentions seen");
        }
        Ok(n)
    }

    /// Deletes a note, as its author or an admin.
    pub async fn delete_note(&self, caller: &Agent, note: &Note) -> Result<(), InboxError> {
        if caller.role != AgentRole::Admin && note.author_id != Some(caller.id) {
            return Err(InboxError::Forbidden);
        }
        if !self.store.delete_note(note.id).await? {
            return Err(InboxError::NotFound { what: "note" });
        }
        tracing::info!(conversation_id = %note.conversation_id, note_id = %note.id, by = %caller.id, "note deleted");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::mentioned_emails;

    fn emails(text: &str) -> Vec<String> {
        mentioned_emails(text).iter().map(|e| e.as_str().to_owned()).collect()
    }

    #[test]
    fn mentions_are_at_sign_then_an_address() {
        assert_eq!(emails("@sam@example.com can you look?"), ["sam@example.com"]);
        assert_eq!(emails("cc @Sam@Example.com, @bo@example.org."), ["sam@example.com", "bo@example.org"]);
        assert_eq!(emails("(@sam@example.com) and again @sam@example.com!"), ["sam@example.com"]);
        assert_eq!(emails("नमस्ते @priya@example.in"), ["priya@example.in"]);
    }

    #[test]
    fn plain_addresses_and_handles_are_not_mentions() {
        assert!(emails("write to sam@example.com").is_empty());
        assert!(emails("@here @sam please").is_empty());
        assert!(emails("price @ 5 EUR, a@@b").is_empty());
    }
}
