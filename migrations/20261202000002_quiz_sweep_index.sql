-- The deadline sweep also looks for submitted attempts whose plugin grading was interrupted
-- (status 'submitted' for more than two minutes). Without an index that query reads every
-- attempt of every tenant each pass; under load it was seen taking seconds. Like
-- quiz_attempts_expiring, the index serves the cross-tenant sweep and leads with its time.
create index quiz_attempts_submitted on quiz_attempts (submitted_at)
    where status = 'submitted';
