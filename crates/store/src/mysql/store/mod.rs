//! `impl Store for MySqlStore`, one file per section of the port (the
//! sub-traits of [`Store`]), named alike in every adapter so one operation
//! reads side by side across backends. Helpers shared by the sections live here.

mod audit;
mod clients;
mod grants;
mod identities;
mod keys;
mod links;
mod lockout;
mod mail;
mod mfa;
mod passkeys;
mod revocations;
mod sessions;
mod users;

use async_trait::async_trait;
use warden_core::StoreError;
use warden_core::ports::Store;

use crate::mysql::{MySqlStore, retry};

#[async_trait]
impl Store for MySqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        retry(|| sqlx::query("SELECT 1").execute(&self.pool)).await?;
        Ok(())
    }
}

/// Converts fetched rows into domain records.
fn convert<R, T>(rows: Vec<R>) -> Result<Vec<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}
