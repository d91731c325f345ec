-- check: area_references_resolve
-- severity: error
-- description: every column naming an area points to a row of the lml_users.areas catalog
with refs as (
  select 'lml_users.user_areas.area_id' as ref, area_id from lml_users.user_areas
  union all select 'lml_processtypes.main.area_id', area_id from lml_processtypes.main
  union all select 'lml_processtypes.steps.area_id', area_id from lml_processtypes.steps
  union all select 'lml_processes.main.current_area_id', current_area_id from lml_processes.main
  union all select 'lml_processes.movements.from_area_id', from_area_id from lml_processes.movements
  union all select 'lml_processes.movements.to_area_id', to_area_id from lml_processes.movements
)
select r.ref, r.area_id, count(*) as references
from refs as r
where r.area_id is not null
  and not exists (select from lml_users.areas as a where a.area_id = r.area_id)
group by r.ref, r.area_id
