import { caseStoreContract } from '../../contract/case-store.contract.ts';
import { backends, sqlStores } from '../../helpers/db.ts';

for (const backend of backends()) caseStoreContract(sqlStores(backend));
