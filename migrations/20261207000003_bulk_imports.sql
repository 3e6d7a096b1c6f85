-- Bulk imports: a tenant admin uploads a users or enrollments CSV; its rows are stored as sent
-- and a job (`imports.run`) applies them in batches, recording each row's outcome. A dry run
-- records what each row would do and changes nothing else.

create table imports (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    kind text not null check (kind in ('users', 'enrollments')),
    dry_run boolean not null,
    status text not null default 'queued'
        check (status in ('queued', 'running', 'succeeded', 'failed')),
    file_name text check (length(file_name) between 1 and 255),
    -- The header as sent (trimmed, lower case): which cell of a row is which column.
    columns text[] not null check (cardinality(columns) between 1 and 10),
    total integer not null check (total between 1 and 10000),
    processed integer not null default 0 check (processed between 0 and total),
    created integer not null default 0 check (created >= 0),
    updated integer not null default 0 check (updated >= 0),
    unchanged integer not null default 0 check (unchanged >= 0),
    deactivated integer not null default 0 check (deactivated >= 0),
    failed integer not null default 0 check (failed >= 0),
    -- Why a failed import stopped before its last row.
    error text check (length(error) <= 1000),
    created_by uuid not null,
    created_from inet,
    created_at timestamptz not null default now(),
    started_at timestamptz,
    finished_at timestamptz,
    primary key (tenant_id, id),
    foreign key (tenant_id, created_by) references users (tenant_id, id)
);
create index imports_listing on imports (tenant_id, id desc);

create table import_rows (
    tenant_id uuid not null,
    import_id uuid not null,
    -- The row's number in the file as a spreadsheet shows it: the header is row 1.
    row_number integer not null check (row_number >= 2),
    cells text[] not null,
    -- An earlier row of the file with the same email (users) or email and course (enrollments).
    duplicate_of integer,
    action text check (action in ('created', 'updated', 'deactivated', 'unchanged', 'failed')),
    error_code text check (length(error_code) <= 64),
    error_message text check (length(error_message) <= 1000),
    processed_at timestamptz,
    primary key (tenant_id, import_id, row_number),
    foreign key (tenant_id, import_id) references imports (tenant_id, id) on delete cascade
);
-- The job's next batch: the rows not processed yet, in file order.
create index import_rows_pending on import_rows (tenant_id, import_id, row_number)
    where action is null;

alter table imports enable row level security;
alter table imports force row level security;
create policy tenant_isolation on imports to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
alter table import_rows enable row level security;
alter table import_rows force row level security;
create policy tenant_isolation on import_rows to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

grant select, insert,
    update (status, processed, created, updated, unchanged, deactivated, failed, error,
            started_at, finished_at)
    on imports to lms_app;
grant select, insert, update (action, error_code, error_message, processed_at)
    on import_rows to lms_app;
