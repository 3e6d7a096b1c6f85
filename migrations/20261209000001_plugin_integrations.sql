-- Integration plugins (the `integration` world of lms:plugin@0.2.0) join the registry beside
-- graders.

alter table plugins drop constraint plugins_world_check;
alter table plugins add constraint plugins_world_check check (world in ('grader', 'integration'));
