-- Local accounts, sessions and one-time tokens. Every table here is tenant-owned: tenant_id leads
-- every key and foreign key, and row-level security confines the app role to app.tenant_id.
create table users (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    email text not null check (email = lower(email) and length(email) between 3 and 254),
    display_name text not null check (length(display_name) between 1 and 200),
    password_hash text,
    roles text[] not null check (
        cardinality(roles) >= 1
        and roles <@ array['learner', 'instructor', 'mentor', 'tenant_admin', 'corporate_manager']
    ),
    status text not null check (status in ('invited', 'active', 'deactivated')),
    -- Bumped when a password changes, roles change or the account is deactivated: access tokens
    -- carry the epoch they were issued in and stop working when it moves on.
    session_epoch integer not null default 0,
    last_login_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint users_email_key unique (tenant_id, email)
);
create trigger users_updated_at before update on users
    for each row execute function set_updated_at();
-- Admin search by email or name, newest first with a stable tiebreak for cursor pages.
create index users_listing on users (tenant_id, created_at desc, id desc);

-- Opaque refresh tokens, stored as SHA-256 hashes. A family is one login's chain of rotations:
-- presenting a token that was already rotated revokes the whole family.
create table refresh_tokens (
    tenant_id uuid not null,
    id uuid not null,
    family_id uuid not null,
    user_id uuid not null,
    token_hash bytea not null,
    csrf_hash bytea,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    rotated_at timestamptz,
    revoked_at timestamptz,
    primary key (tenant_id, id),
    constraint refresh_tokens_hash_key unique (tenant_id, token_hash),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);
create index refresh_tokens_family on refresh_tokens (tenant_id, family_id);
create index refresh_tokens_user on refresh_tokens (tenant_id, user_id);

-- Password resets and invitations: single use, short lived, stored hashed.
create table user_tokens (
    tenant_id uuid not null,
    id uuid not null,
    user_id uuid not null,
    purpose text not null check (purpose in ('password_reset', 'invitation')),
    token_hash bytea not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    consumed_at timestamptz,
    primary key (tenant_id, id),
    constraint user_tokens_hash_key unique (tenant_id, token_hash),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);
create index user_tokens_user on user_tokens (tenant_id, user_id, purpose);

alter table users enable row level security;
alter table users force row level security;
alter table refresh_tokens enable row level security;
alter table refresh_tokens force row level security;
alter table user_tokens enable row level security;
alter table user_tokens force row level security;

create policy tenant_isolation on users to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on refresh_tokens to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy tenant_isolation on user_tokens to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert, update on users, refresh_tokens, user_tokens to lms_app;
grant delete on refresh_tokens, user_tokens to lms_app;
grant select, insert, update, delete on users, refresh_tokens, user_tokens to lms_operator;

-- Ed25519 keys that sign access tokens; only the operator role reads them (key management).
-- Platform-wide: a token names its key by kid, and the
-- JWKS publishes every key that may still verify a live token. Rotation inserts a new key and
-- retires the old one; a retired key keeps verifying until the longest token it signed expires.
create table signing_keys (
    kid text primary key,
    private_key_pkcs8 bytea not null,
    created_at timestamptz not null default now(),
    retired_at timestamptz
);
grant select, insert, update, delete on signing_keys to lms_operator;
