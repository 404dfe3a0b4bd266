//! Sign-in's storage: failed sign-ins counted per account and per client, sessions,
//! single-use invitations, the TOTP replay guard, the security settings.

use std::sync::Arc;

use chrono::Duration;
use switchboard_domain::{AgentRole, TokenHash};
use switchboard_store::{
    FailureKey, InvitationOutcome, InvitationPurpose, NewInvitation, NewSession, NewSignInFailure, SealedSecret,
    SecuritySettings, Store, StoreError,
};

use crate::agents_admin::{new_agent, token};
use crate::fixtures::t;

conformance!(stories: [
    failures_are_counted_per_account_and_per_client_within_the_window,
    sessions_are_found_by_token_touched_completed_and_revoked,
    an_invitation_is_used_once_and_not_after_it_expires,
    a_totp_step_is_accepted_once_and_only_forward,
    security_settings_are_stored,
]);

async fn failures_are_counted_per_account_and_per_client_within_the_window(store: Arc<dyn Store>) {
    for (i, (account, client)) in
        [("ana@x.com", "10.0.0.1"), ("ana@x.com", "10.0.0.2"), ("bo@x.com", "10.0.0.1")].into_iter().enumerate()
    {
        let f = NewSignInFailure { account, agent: None, client_addr: client };
        store.record_sign_in_failure(&f, t(10 + i64::try_from(i).unwrap())).await.unwrap();
    }
    let since = t(0);
    // The newest, the second newest; no third for ana.
    assert_eq!(store.nth_recent_failure(FailureKey::Account("ana@x.com"), since, 1).await.unwrap(), Some(t(11)));
    assert_eq!(store.nth_recent_failure(FailureKey::Account("ana@x.com"), since, 2).await.unwrap(), Some(t(10)));
    assert_eq!(store.nth_recent_failure(FailureKey::Account("ana@x.com"), since, 3).await.unwrap(), None);
    assert_eq!(store.nth_recent_failure(FailureKey::Client("10.0.0.1"), since, 2).await.unwrap(), Some(t(10)));
    // Only those after `since` count.
    assert_eq!(store.nth_recent_failure(FailureKey::Client("10.0.0.1"), t(10), 2).await.unwrap(), None);
    assert_eq!(store.nth_recent_failure(FailureKey::Account("cy@x.com"), since, 1).await.unwrap(), None);
}

async fn sessions_are_found_by_token_touched_completed_and_revoked(store: Arc<dyn Store>) {
    let ana =
        store.create_agent(&new_agent("Ana", "ana@example.com", AgentRole::Agent), &token(1), t(0)).await.unwrap();
    let hash = TokenHash::from_bytes([7; 32]);
    let new = NewSession {
        hash: &hash,
        agent: ana.id,
        expires_at: t(0) + Duration::days(30),
        user_agent: Some("Firefox"),
        client_addr: Some("10.0.0.1"),
        second_factor_pending: true,
    };
    let s = store.create_session(&new, t(0)).await.unwrap();
    let (found, agent) = store.session_by_token(&hash).await.unwrap().unwrap();
    assert_eq!(found, s);
    assert_eq!(agent.id, ana.id);
    assert!(found.second_factor_pending);
    store.complete_second_factor(s.id).await.unwrap();
    // Touched only when older than `stale`.
    store.touch_session(s.id, t(0) - Duration::seconds(1), t(5)).await.unwrap();
    assert_eq!(store.session_by_token(&hash).await.unwrap().unwrap().0.last_seen_at, t(0));
    store.touch_session(s.id, t(1), t(5)).await.unwrap();
    let (found, _) = store.session_by_token(&hash).await.unwrap().unwrap();
    assert_eq!(found.last_seen_at, t(5));
    assert!(!found.second_factor_pending);
    assert_eq!(store.sessions(ana.id, t(6)).await.unwrap().len(), 1);
    assert!(store.sessions(ana.id, t(0) + Duration::days(31)).await.unwrap().is_empty(), "past its expiry");
    // Revoked: gone, and its first revocation time stays.
    let revoked = store.revoke_session(ana.id, s.id, t(7)).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(t(7)));
    assert_eq!(store.revoke_session(ana.id, s.id, t(8)).await.unwrap().revoked_at, Some(t(7)));
    assert!(store.session_by_token(&hash).await.unwrap().is_none());
    let bo = store.create_agent(&new_agent("Bo", "bo@example.com", AgentRole::Agent), &token(2), t(0)).await.unwrap();
    assert!(matches!(store.revoke_session(bo.id, s.id, t(8)).await, Err(StoreError::NotFound)));
    // Revoking all but one.
    let (h1, h2) = (TokenHash::from_bytes([8; 32]), TokenHash::from_bytes([9; 32]));
    let keep = store.create_session(&NewSession { hash: &h1, ..new.clone() }, t(9)).await.unwrap();
    store.create_session(&NewSession { hash: &h2, ..new }, t(9)).await.unwrap();
    assert_eq!(store.revoke_sessions(ana.id, Some(keep.id), t(10)).await.unwrap(), 1);
    assert!(store.session_by_token(&h1).await.unwrap().is_some());
    assert!(store.session_by_token(&h2).await.unwrap().is_none());
}

async fn an_invitation_is_used_once_and_not_after_it_expires(store: Arc<dyn Store>) {
    let ana =
        store.create_agent(&new_agent("Ana", "ana@example.com", AgentRole::Agent), &token(1), t(0)).await.unwrap();
    let (h1, h2) = (TokenHash::from_bytes([1; 32]), TokenHash::from_bytes([2; 32]));
    let inv = |hash, purpose| NewInvitation { hash, agent: ana.id, purpose, created_by: None, expires_at: t(100) };
    store.create_invitation(&inv(&h1, InvitationPurpose::Invite), t(0)).await.unwrap();
    store.create_invitation(&inv(&h2, InvitationPurpose::Reset), t(0)).await.unwrap();
    let session = TokenHash::from_bytes([3; 32]);
    let new = NewSession {
        hash: &session,
        agent: ana.id,
        expires_at: t(1000),
        user_agent: None,
        client_addr: None,
        second_factor_pending: false,
    };
    store.create_session(&new, t(0)).await.unwrap();
    match store.accept_invitation(&h1, "$argon2id$first", t(10)).await.unwrap() {
        InvitationOutcome::Accepted { agent, purpose, revoked } => {
            assert_eq!((agent.id, purpose, revoked), (ana.id, InvitationPurpose::Invite, 0));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.accept_invitation(&h1, "$argon2id$again", t(11)).await.unwrap(), InvitationOutcome::Used);
    assert_eq!(store.credentials(ana.id).await.unwrap().password_hash.as_deref(), Some("$argon2id$first"));
    assert_eq!(store.invitation(&h1).await.unwrap().unwrap().used_at, Some(t(10)));
    // Expired.
    assert_eq!(store.accept_invitation(&h2, "$argon2id$late", t(100)).await.unwrap(), InvitationOutcome::Expired);
    assert_eq!(
        store.accept_invitation(&TokenHash::from_bytes([4; 32]), "x", t(1)).await.unwrap(),
        InvitationOutcome::NotFound
    );
    // A reset in time ends the sessions.
    let h5 = TokenHash::from_bytes([5; 32]);
    store.create_invitation(&inv(&h5, InvitationPurpose::Reset), t(50)).await.unwrap();
    match store.accept_invitation(&h5, "$argon2id$reset", t(60)).await.unwrap() {
        InvitationOutcome::Accepted { revoked, .. } => assert_eq!(revoked, 1),
        other => panic!("{other:?}"),
    }
    assert!(store.session_by_token(&session).await.unwrap().is_none());
    let nobody = switchboard_domain::AgentId::new();
    let err =
        store.create_invitation(&NewInvitation { agent: nobody, ..inv(&h5, InvitationPurpose::Invite) }, t(0)).await;
    assert!(matches!(err, Err(StoreError::NotFound)));
}

async fn a_totp_step_is_accepted_once_and_only_forward(store: Arc<dyn Store>) {
    let ana =
        store.create_agent(&new_agent("Ana", "ana@example.com", AgentRole::Agent), &token(1), t(0)).await.unwrap();
    assert!(!store.use_totp_step(ana.id, 100, true).await.unwrap(), "no secret, no code");
    let sealed = SealedSecret { key_id: "k1".into(), sealed: vec![1, 2, 3] };
    store.set_totp(ana.id, Some(&sealed)).await.unwrap();
    let creds = store.credentials(ana.id).await.unwrap();
    assert_eq!(creds.totp.as_ref().unwrap().secret, sealed);
    assert!(!creds.totp.unwrap().confirmed);
    assert!(store.use_totp_step(ana.id, 100, true).await.unwrap());
    assert!(store.credentials(ana.id).await.unwrap().totp.unwrap().confirmed);
    assert!(!store.use_totp_step(ana.id, 100, false).await.unwrap(), "replay");
    assert!(!store.use_totp_step(ana.id, 99, false).await.unwrap(), "an older step");
    assert!(store.use_totp_step(ana.id, 101, false).await.unwrap());
    store.set_totp(ana.id, None).await.unwrap();
    assert!(store.credentials(ana.id).await.unwrap().totp.is_none());
    assert!(matches!(store.set_totp(switchboard_domain::AgentId::new(), None).await, Err(StoreError::NotFound)));
}

async fn security_settings_are_stored(store: Arc<dyn Store>) {
    let ana =
        store.create_agent(&new_agent("Ana", "ana@example.com", AgentRole::Admin), &token(1), t(0)).await.unwrap();
    assert!(!store.security_settings().await.unwrap().totp_mandatory);
    store.set_security_settings(&SecuritySettings { totp_mandatory: true }, ana.id, t(1)).await.unwrap();
    assert!(store.security_settings().await.unwrap().totp_mandatory);
}
