//! Background work, each started from [`crate::serve`] and stopped with it: applying key
//! revocations, tenant provider-key changes made by other processes, and master-keyring
//! changes (a rotation by `neureus master-key rotate`).

use std::time::Duration;

use neureus_types::ProviderId;

use crate::state::AppState;

/// Polls the store every `every` and applies changes to the caches.
pub async fn poll_changes(state: AppState, every: Duration) {
    let mut since = neureus_store::now_ms();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = neureus_store::now_ms();
        // Windows overlap by 2 s so a change written with a slightly older clock is seen.
        let from = since - 2_000;
        let revoked = state.store.revoked_since(from).await;
        let changed = state.store.provider_keys_changed_since(from).await;
        let tenants = state.store.tenants_changed_since(from).await;
        match (revoked, changed, tenants) {
            (Ok(revoked), Ok(changed), Ok(tenants)) => {
                for t in tenants {
                    state.tenant_settings.invalidate(&t);
                }
                for id in revoked {
                    state.auth.mark_revoked(&id);
                }
                for (tenant, provider) in changed {
                    if let Some(p) = ProviderId::parse(&provider) {
                        state.tenant_keys.invalidate(&tenant, p);
                    }
                }
                since = started;
            }
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                tracing::warn!(error = %e, "cannot poll for changes")
            }
        }
        // Reading the keyring file is blocking I/O: off the runtime's threads, which serve
        // requests.
        let st = state.clone();
        let reloaded = tokio::task::spawn_blocking(move || st.tenant_keys.reload_keyring())
            .await
            .unwrap_or(false);
        if reloaded {
            state.tenant_keys.invalidate_all();
        }
    }
}

/// Deletes request logs older than the retention period, in small batches, every `every`.
pub async fn retention(state: AppState, every: Duration) {
    let days = state.config.logs.retention_days;
    if days == 0 {
        return;
    }
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let cutoff = neureus_store::now_ms() - i64::from(days) * 86_400_000;
        let mut total = 0u64;
        loop {
            match state.store.delete_logs_before(cutoff, 1_000).await {
                Ok(0) => break,
                Ok(n) => {
                    total += n;
                    // Small batches with a pause keep the database responsive.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "log retention failed");
                    break;
                }
            }
        }
        if total > 0 {
            tracing::info!(deleted = total, days, "old request logs deleted");
        }
    }
}
