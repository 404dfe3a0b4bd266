pub mod conversations;
pub mod health;
pub mod outbox;
pub mod replies;
pub mod webhooks;
