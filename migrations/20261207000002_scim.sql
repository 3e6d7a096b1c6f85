-- SCIM 2.0 provisioning: the tenant's bearer tokens, the SCIM attributes of users an identity
-- provider manages, and the external ids of the cohorts it manages as groups.

-- A tenant's SCIM bearer token, stored as SHA-256 only. The secret names its tenant, so one
-- token both selects and authenticates the tenant; a revoked token is kept for the record.
create table scim_tokens (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    token_hash bytea not null check (length(token_hash) = 32),
    description text not null default '' check (length(description) <= 200),
    created_by uuid not null,
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    primary key (tenant_id, id),
    foreign key (tenant_id, created_by) references users (tenant_id, id),
    unique (tenant_id, token_hash)
);

-- What an identity provider said about a user, kept as sent: its userName (unique in the
-- tenant ignoring case), externalId and the other attributes of the User resource. Users the
-- provider never touched have no row (their userName is their email). `deleted_at`: the
-- provider deleted the user, who stays deactivated in the tenant and leaves the SCIM listing.
create table scim_users (
    tenant_id uuid not null,
    user_id uuid not null,
    user_name text not null check (length(user_name) between 1 and 254),
    external_id text check (length(external_id) between 1 and 254),
    attributes jsonb not null default '{}' check (jsonb_typeof(attributes) = 'object'),
    deleted_at timestamptz,
    primary key (tenant_id, user_id),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);
create unique index scim_users_user_name_key on scim_users (tenant_id, lower(user_name));
create index scim_users_external_id on scim_users (tenant_id, external_id);

-- The externalId an identity provider gave a cohort it manages as a group.
create table scim_groups (
    tenant_id uuid not null,
    cohort_id uuid not null,
    external_id text check (length(external_id) between 1 and 254),
    primary key (tenant_id, cohort_id),
    foreign key (tenant_id, cohort_id) references cohorts (tenant_id, id) on delete cascade
);

alter table scim_tokens enable row level security;
alter table scim_tokens force row level security;
create policy tenant_isolation on scim_tokens to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table scim_users enable row level security;
alter table scim_users force row level security;
create policy tenant_isolation on scim_users to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table scim_groups enable row level security;
alter table scim_groups force row level security;
create policy tenant_isolation on scim_groups to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert, update (last_used_at, revoked_at) on scim_tokens to lms_app;
grant select, insert, update (user_name, external_id, attributes, deleted_at), delete on scim_users to lms_app;
grant select, insert, update (external_id), delete on scim_groups to lms_app;
