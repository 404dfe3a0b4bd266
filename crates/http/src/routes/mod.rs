pub mod conversations;
pub mod health;
pub mod webhooks;
