/// The one error of the storage ports. Backends map their driver errors here, and only
/// there; the HTTP layer maps this once to a status code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; `what` names it for the client ("agent email").
    #[error("{what} already exists")]
    Conflict { what: &'static str },
    /// The database is unreachable, timed out, or failed.
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else: a bug or corrupt data.
    #[error("storage error")]
    Other(#[source] anyhow::Error),
}

impl StoreError {
    /// A row the database returned that cannot be a domain value.
    pub fn corrupt(what: impl std::fmt::Display) -> Self {
        Self::Other(anyhow::anyhow!("corrupt row: {what}"))
    }
}
