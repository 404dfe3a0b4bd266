pub mod conversations;
pub mod health;
pub mod media;
pub mod metrics;
pub mod outbox;
pub mod read;
pub mod replies;
pub mod webhooks;
