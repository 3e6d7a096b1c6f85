-- Roles and shared helpers.
--
-- The server never connects as the owner of these tables. It uses:
--   lms_app       NOSUPERUSER NOBYPASSRLS, owns nothing: every request, always inside a
--                 tenant-scoped transaction that sets app.tenant_id.
--   lms_operator  BYPASSRLS: the platform-operator API and cross-tenant background jobs only.
-- Roles are cluster-wide, so creating them tolerates a concurrent creator (parallel test databases).
do $$
begin
    begin
        create role lms_app login nosuperuser nobypassrls nocreatedb nocreaterole noinherit;
    exception when duplicate_object or unique_violation then null;
    end;
    begin
        create role lms_operator login nosuperuser bypassrls nocreatedb nocreaterole noinherit;
    exception when duplicate_object or unique_violation then null;
    end;
end
$$;

do $$
begin
    execute format('grant connect on database %I to lms_app, lms_operator', current_database());
end
$$;

-- Readiness probes compare applied migrations with the binary's.
grant select on _sqlx_migrations to lms_app;

revoke all on schema public from public;
grant usage on schema public to lms_app, lms_operator;

-- Keeps updated_at honest without every statement having to remember it.
create function set_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end
$$;
