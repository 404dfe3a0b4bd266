//! KPI facts (`switchboard_store_sql::kpis`).

switchboard_store_sql::kpi_store!(crate::PgStore, sqlx::PgConnection);
