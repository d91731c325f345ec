-- check: lml_processes_status_known
-- severity: error
-- description: every process has a status in iniciado, en_tramite, finalizado, archivado
select process_id, process_number, status
from lml_processes.main
where status is null or status not in ('iniciado', 'en_tramite', 'finalizado', 'archivado')
