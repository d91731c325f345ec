-- check: lml_processes_movements_have_process
-- severity: error
-- description: every movement and attachment belongs to an existing process
select 'movements' as child, c.process_id, c.position
from lml_processes.movements as c
left join lml_processes.main as p on p.process_id = c.process_id
where p.process_id is null
union all
select 'attachments', c.process_id, c.position
from lml_processes.attachments as c
left join lml_processes.main as p on p.process_id = c.process_id
where p.process_id is null
