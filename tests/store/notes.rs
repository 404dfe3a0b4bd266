//! Private notes and @mentions.

use std::sync::Arc;

use switchboard_domain::{AgentRole, ConversationId};
use switchboard_store::{NewNote, NoteId, Store, StoreError, TeamName, Visibility};

use crate::fixtures::{channel, t};
use crate::views::{agent, conversation};

conformance!(stories: [
    notes_are_listed_paged_and_deleted,
    notes_are_read_between_two_times,
    mentions_list_newest_first_what_the_agent_may_see,
    unseen_mentions_list_conversations_until_the_agent_opens_them,
]);

fn note(conversation: ConversationId, author: switchboard_domain::AgentId, text: &str, at: i64) -> NewNote {
    NewNote { conversation_id: conversation, author_id: author, text: text.to_owned(), mentions: Vec::new(), at: t(at) }
}

async fn notes_are_read_between_two_times(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ana = agent(s, 1, AgentRole::Agent).await;
    let ch = channel(s, "106540352242922").await.id;
    let c = conversation(s, ch, "16505550001", "Ana", "hola", t(1)).await;
    let other = conversation(s, ch, "16505550002", "Bo", "hello", t(1)).await;
    let mut ids = Vec::new();
    for at in [10, 20, 30, 40] {
        ids.push(s.create_note(&note(c, ana, &format!("at {at}"), at)).await.unwrap().id);
    }
    s.create_note(&note(other, ana, "elsewhere", 25)).await.unwrap();
    let between = |from: Option<i64>, to: Option<i64>, limit: u32| async move {
        let notes = s.notes_between(c, from.map(t), to.map(t), limit).await.unwrap();
        notes.iter().map(|n| n.id).collect::<Vec<NoteId>>()
    };
    assert_eq!(between(None, None, 50).await, ids);
    assert_eq!(between(Some(20), Some(40), 50).await, ids[1..3], "from inclusive, to exclusive");
    assert_eq!(between(Some(21), None, 50).await, ids[2..]);
    assert_eq!(between(None, Some(20), 50).await, ids[..1]);
    assert_eq!(between(None, None, 2).await, ids[..2], "the first ones");
    let err = s.notes_between(ConversationId::new(), None, None, 10).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn notes_are_listed_paged_and_deleted(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ana = agent(s, 1, AgentRole::Agent).await;
    let bo = agent(s, 2, AgentRole::Agent).await;
    let ch = channel(s, "106540352242922").await.id;
    let c = conversation(s, ch, "16505550001", "Ana", "hola", t(1)).await;
    let other = conversation(s, ch, "16505550002", "Bo", "hello", t(1)).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut n = note(c, ana, &format!("note {i} नोट"), 10 + i);
        if i == 2 {
            n.mentions = vec![bo, ana];
        }
        let created = s.create_note(&n).await.unwrap();
        assert_eq!(created.text, format!("note {i} नोट"));
        assert_eq!(created.author_id, Some(ana));
        assert_eq!(created.created_at, t(10 + i));
        ids.push(created.id);
    }
    s.create_note(&note(other, bo, "elsewhere", 20)).await.unwrap();
    let first = s.notes(c, 2, None).await.unwrap();
    let second = s.notes(c, 2, first.next).await.unwrap();
    let third = s.notes(c, 2, second.next).await.unwrap();
    assert!(third.next.is_none());
    let listed: Vec<NoteId> = [first.items, second.items, third.items].concat().iter().map(|n| n.id).collect();
    assert_eq!(listed, ids, "oldest first, no gaps or duplicates");
    let mentioned = s.note(ids[2]).await.unwrap().unwrap();
    assert_eq!(mentioned.mentions, [bo, ana], "in the order mentioned");
    assert_eq!(mentioned.conversation_id, c);
    // Deleting.
    assert!(s.delete_note(ids[2]).await.unwrap());
    assert!(!s.delete_note(ids[2]).await.unwrap());
    assert!(s.note(ids[2]).await.unwrap().is_none());
    assert_eq!(s.notes(c, 50, None).await.unwrap().items.len(), 4);
    assert!(s.mentions(bo, Visibility::All, false, 50, None).await.unwrap().items.is_empty());
    // Unknown conversations and agents.
    let err = s.create_note(&note(ConversationId::new(), ana, "x", 30)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert!(matches!(s.notes(ConversationId::new(), 10, None).await.unwrap_err(), StoreError::NotFound));
    let mut ghost = note(c, ana, "to a ghost", 31);
    ghost.mentions = vec![switchboard_domain::AgentId::new()];
    assert!(matches!(s.create_note(&ghost).await.unwrap_err(), StoreError::NotFound));
    assert_eq!(s.notes(c, 50, None).await.unwrap().items.len(), 4, "nothing stored");
}

async fn mentions_list_newest_first_what_the_agent_may_see(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ana = agent(s, 1, AgentRole::Agent).await;
    let bo = agent(s, 2, AgentRole::Agent).await;
    let a = channel(s, "106540352242922").await.id;
    let b = channel(s, "106540352242923").await.id;
    let team = s.create_team(&TeamName::parse("Berlin").unwrap(), t(0)).await.unwrap().id;
    s.route_channel(b, Some(team)).await.unwrap();
    let open = conversation(s, a, "16505550001", "Ana", "hola", t(1)).await;
    let hidden = conversation(s, b, "16505550002", "Bo", "hello", t(1)).await;
    let mut expected = Vec::new();
    for i in 0..4 {
        let mut n = note(open, ana, &format!("@bo {i}"), 10 + i);
        n.mentions = vec![bo];
        expected.push(s.create_note(&n).await.unwrap().id);
        s.create_note(&note(open, ana, "no mention", 10 + i)).await.unwrap();
    }
    let mut n = note(hidden, ana, "@bo on a channel bo cannot see", 20);
    n.mentions = vec![bo];
    let on_hidden = s.create_note(&n).await.unwrap().id;
    expected.reverse();
    // Newest first, paged.
    let first = s.mentions(bo, Visibility::Agent(bo), false, 3, None).await.unwrap();
    let second = s.mentions(bo, Visibility::Agent(bo), false, 3, first.next).await.unwrap();
    assert!(second.next.is_none());
    let got: Vec<NoteId> = [first.items, second.items].concat().iter().map(|n| n.id).collect();
    assert_eq!(got, expected);
    // Admins (or once bo joins the team) see the other one too.
    let all = s.mentions(bo, Visibility::All, false, 50, None).await.unwrap();
    assert_eq!(all.items[0].id, on_hidden);
    s.add_team_member(team, bo, t(30)).await.unwrap();
    assert_eq!(s.mentions(bo, Visibility::Agent(bo), false, 50, None).await.unwrap().items.len(), 5);
    assert!(s.mentions(ana, Visibility::Agent(ana), false, 50, None).await.unwrap().items.is_empty());
}

async fn unseen_mentions_list_conversations_until_the_agent_opens_them(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ana = agent(s, 1, AgentRole::Agent).await;
    let bo = agent(s, 2, AgentRole::Agent).await;
    let a = channel(s, "106540352242922").await.id;
    let b = channel(s, "106540352242923").await.id;
    let team = s.create_team(&TeamName::parse("Berlin").unwrap(), t(0)).await.unwrap().id;
    s.route_channel(b, Some(team)).await.unwrap();
    let c1 = conversation(s, a, "16505550001", "Ana", "hola", t(1)).await;
    let c2 = conversation(s, a, "16505550002", "Bo", "hello", t(1)).await;
    let hidden = conversation(s, b, "16505550003", "Cy", "hi", t(1)).await;
    let mention = |c: ConversationId, who: Vec<switchboard_domain::AgentId>, text: &str, at: i64| {
        let mut n = note(c, ana, text, at);
        n.mentions = who;
        async move { s.create_note(&n).await.unwrap().id }
    };
    let n1 = mention(c1, vec![bo], "@bo first", 10).await;
    let n2 = mention(c2, vec![bo], "@bo second", 20).await;
    let n3 = mention(c1, vec![bo], "@bo third", 30).await;
    let n4 = mention(hidden, vec![bo], "@bo on a channel bo cannot see", 40).await;
    mention(c2, vec![ana], "@ana only", 50).await;
    s.create_note(&note(c1, ana, "no mention", 60)).await.unwrap();
    let listed = |agent, viewer| async move {
        let page = s.mentioned_conversations(agent, viewer, 50, None).await.unwrap();
        page.items.iter().map(|m| (m.conversation.id, m.latest.id, m.unseen)).collect::<Vec<_>>()
    };
    let me = Visibility::Agent(bo);
    // By the newest unseen mention, newest first; only what bo may see.
    assert_eq!(listed(bo, me).await, [(c1, n3, 2), (c2, n2, 1)]);
    assert_eq!(s.mentioned_conversation_count(bo, me).await.unwrap(), 2);
    let first = s.mentioned_conversations(bo, me, 1, None).await.unwrap();
    assert_eq!(first.items[0].latest.text, "@bo third");
    assert_eq!(first.items[0].latest.mentions, [bo]);
    assert_eq!(first.items[0].conversation.contact.wa_id.as_str(), "16505550001");
    assert_eq!(first.next, Some(n3));
    let second = s.mentioned_conversations(bo, me, 1, first.next).await.unwrap();
    assert_eq!(second.items.iter().map(|m| m.conversation.id).collect::<Vec<_>>(), [c2]);
    assert!(second.next.is_none());
    assert_eq!(listed(bo, Visibility::All).await, [(hidden, n4, 1), (c1, n3, 2), (c2, n2, 1)]);
    assert_eq!(s.mentioned_conversation_count(bo, Visibility::All).await.unwrap(), 3);
    let unseen = s.mentions(bo, me, true, 50, None).await.unwrap();
    assert_eq!(unseen.items.iter().map(|n| n.id).collect::<Vec<_>>(), [n3, n2, n1]);

    // Opening c1 sees its two mentions (and nobody else's); again, nothing is left.
    assert_eq!(s.mark_mentions_seen(bo, c1, t(70)).await.unwrap(), 2);
    assert_eq!(s.mark_mentions_seen(bo, c1, t(71)).await.unwrap(), 0);
    assert_eq!(s.mark_mentions_seen(ana, c1, t(71)).await.unwrap(), 0, "ana was mentioned in c2 only");
    assert_eq!(listed(bo, me).await, [(c2, n2, 1)]);
    assert_eq!(s.mentioned_conversation_count(bo, me).await.unwrap(), 1);
    let unseen = s.mentions(bo, me, true, 50, None).await.unwrap();
    assert_eq!(unseen.items.iter().map(|n| n.id).collect::<Vec<_>>(), [n2]);
    assert_eq!(s.mentions(bo, me, false, 50, None).await.unwrap().items.len(), 3, "seen mentions are still mentions");
    assert_eq!(s.mentioned_conversation_count(ana, Visibility::Agent(ana)).await.unwrap(), 1);

    // A new mention brings c1 back, first; deleting c2's note takes c2 out.
    let n6 = mention(c1, vec![bo, ana], "@bo @ana again", 80).await;
    assert_eq!(listed(bo, me).await, [(c1, n6, 1), (c2, n2, 1)]);
    assert!(s.delete_note(n2).await.unwrap());
    assert_eq!(listed(bo, me).await, [(c1, n6, 1)]);
    assert_eq!(s.mentioned_conversation_count(bo, me).await.unwrap(), 1);
    // Joining the team shows the hidden one; an unknown conversation has nothing to see.
    s.add_team_member(team, bo, t(90)).await.unwrap();
    assert_eq!(listed(bo, me).await, [(c1, n6, 1), (hidden, n4, 1)]);
    assert_eq!(s.mark_mentions_seen(bo, ConversationId::new(), t(91)).await.unwrap(), 0);
}
