import { caseStoreContract } from '../../contract/case-store.contract.ts';
import { backends } from '../../helpers/db.ts';

for (const backend of backends()) caseStoreContract(backend);
