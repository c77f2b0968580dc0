//! `ready`: the readiness probe.

use crate::errors::SupportError;

use super::support::*;

// ---------------------------------------------------------------- readiness

#[tokio::test]
async fn check_ready_succeeds_when_the_store_answers() {
    let mut m = fixture();
    m.repo.expect_ping().times(1).returning(|| Ok(()));

    assert_eq!(m.service().check_ready().await, Ok(()));
}

#[tokio::test]
async fn check_ready_maps_a_ping_failure_to_a_storage_error() {
    let mut m = fixture();
    m.repo
        .expect_ping()
        .times(1)
        .returning(|| Err(unavailable()));

    assert_eq!(
        m.service().check_ready().await,
        Err(SupportError::Storage(unavailable()))
    );
}
