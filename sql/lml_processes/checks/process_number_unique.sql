-- check: lml_processes_process_number_unique
-- severity: warn
-- description: process numbers are unique among non-deleted processes
select process_number, count(*) as processes
from lml_processes.main
where process_number is not null and not is_deleted
group by process_number
having count(*) > 1
