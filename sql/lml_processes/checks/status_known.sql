-- check: lml_processes_status_known
-- severity: warn
-- description: every process has a status in iniciado, en_tramite, finalizado, archivado (a new status is kept in its column: extend the list here once the application owners confirm it)
select process_id, process_number, status
from lml_processes.main
where status is null or status not in ('iniciado', 'en_tramite', 'finalizado', 'archivado')
