import { beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../../integrations/catalog/index.ts';
import type { EntityExtractor } from '../../../integrations/nlu/entities.ts';
import { createEntityExtractor } from '../../../integrations/nlu/entities.ts';
import { findFolio, findPhone, spokenToDigits } from '../../../integrations/nlu/folio.ts';
import { fold } from '../../../integrations/nlu/text.ts';

let ex: EntityExtractor;
beforeAll(async () => {
  ex = createEntityExtractor(await loadCatalog('catalog'), 'VER');
});

describe('folio normalisation (shared/data/README.md)', () => {
  it.each([
    ['ver-2026-1203', 'VER-2026-001203'],
    ['VER 2026 001203', 'VER-2026-001203'],
    ['mi folio es VER-2026-000123', 'VER-2026-000123'],
    ['VER2026000888', 'VER-2026-000888'],
    ['VER-2O26-OO1203', 'VER-2026-001203'],
    ['folio ver-2026-00O450', 'VER-2026-000450'],
    ['folio 2026-000777', 'VER-2026-000777'],
    ['el folio es 000456', '000456'],
    ['#1203', '001203'],
    ['000456', '000456'],
    ['el numero de folio que me dieron es el 001203', '001203'],
    ['mi folio es cero cero uno dos cero tres', '001203'],
    ['folio ver dos mil veintiseis cero cero uno dos cero tres', 'VER-2026-001203'],
    ['case number zero zero one two three', '000123'],
    ['VER twenty twenty six zero zero one two three four', 'VER-2026-001234'],
  ])('%s → %s', (text, folio) => {
    expect(ex.extract(text).folio).toBe(folio);
  });

  it.each([['lo reporte hace 3 semanas'], ['calle Reforma numero 45'], ['45'], ['mi tel es 9210004521']])(
    'no folio in %s',
    (text) => {
      expect(ex.extract(text).folio).toBeUndefined();
    },
  );

  it('uses the configured prefix', () => {
    expect(findFolio(fold('xal-2026-77').text, 'XAL')?.value).toBe('XAL-2026-000077');
    expect(findFolio(fold('ver-2026-77').text, 'XAL')).toBeUndefined();
  });

  it('turns dictated digits into digits', () => {
    expect(spokenToDigits('cero cero uno dos')).toBe('0012');
    expect(spokenToDigits('dos mil veintiseis')).toBe('2026');
    expect(spokenToDigits('tengo dos hijos')).toBe('tengo dos hijos');
  });
});

describe('phone and e-mail normalisation', () => {
  it.each([
    ['mi cel es 9210004521', '9210004521'],
    ['+52 921 000 4521', '9210004521'],
    ['tel 921-000-45-21', '9210004521'],
    ['(921) 000 4521', '9210004521'],
    ['52 1 921 000 4521', '9210004521'],
    ['+521 9210004521', '9210004521'],
    ['marquen al 921.000.4521 porfa', '9210004521'],
  ])('%s → %s', (text, phone) => {
    expect(ex.extract(text).phone).toBe(phone);
  });

  it('does not read a folio as a phone', () => {
    const e = ex.extract('VER 2026 001203');
    expect(e.folio).toBe('VER-2026-001203');
    expect(e.phone).toBeUndefined();
    expect(findPhone(fold('calle 12 numero 345').text)).toBeUndefined();
  });

  it('lowercases e-mail', () => {
    expect(ex.extract('mi correo es Juan.Perez@Example.COM gracias').email).toBe('juan.perez@example.com');
  });
});

describe('gazetteers (fuzzy)', () => {
  it.each([
    ['no ha pasado la basura en la col petrolera', 'Petrolera'],
    ['vivo en palmasola', 'Palma Sola'],
    ['en la colonia Benito Juárez Norte', 'Benito Juárez Norte'],
    ['fracc el tesoro', 'El Tesoro'],
    ['en la nva obrera', 'Nueva Obrera'],
    ['en la petrolra', 'Petrolera'],
    ['en la infonavit las palmas', 'Infonavit Las Palmas'],
  ])('colonia in %s → %s', (text, colonia) => {
    expect(ex.extract(text).colonia).toBe(colonia);
  });

  it.each([
    ['no jala el internet en la plaza de la cdaie 3', 'hs-cdaie-3-gaviotas'],
    ['la cdai 3 no tiene internet', 'hs-cdaie-3-gaviotas'],
    ['el wifi del parqe de las gabiotas', 'hs-parque-las-gaviotas'],
    ['el wifi del parque de los patos', 'hs-parque-miguel-hidalgo'],
    ['wifi del malecon', 'hs-malecon-costero'],
    ['el cdaie de villa del rio no tiene internet', 'hs-cdaie-5-villa-del-rio'],
    ['the free wifi at Benito Juárez park is down', 'hs-parque-benito-juarez'],
    ['en paso nuevo no hay internet', 'hs-torre-congregacion-paso-nuevo'],
    ['la antena del pancho villa', 'hs-torre-ejido-francisco-villa'],
  ])('hotspot in %s → %s', (text, hotspot) => {
    expect(ex.extract(text).hotspot).toBe(hotspot);
  });

  it('does not confuse cdaie 2 with cdaie 3', () => {
    expect(ex.extract('el cdaie 2 sin internet').hotspot).toBe('hs-cdaie-2-petrolera');
  });

  it('reads a street named like a colonia as a street', () => {
    const e = ex.extract('tiraron escombro en la banqueta, calle Lázaro Cárdenas 17');
    expect(e.colonia).toBeUndefined();
    expect(e.address).toBe('calle Lázaro Cárdenas 17');
  });
});

describe('category, procedure, topic', () => {
  it.each([
    ['hay un baxe enorme', 'baches'],
    ['la lampara no prende', 'alumbrado'],
    ['el arbotante de la esquina esta fundido', 'alumbrado'],
    ['se tapo la coladera', 'drenaje'],
    ['there is a huge pothole', 'baches'],
    ['tiran basura en el terreno baldío', 'lotes_baldios'],
    ['el semaforo no sirve', 'vialidad'],
  ])('category in %s → %s', (text, category) => {
    expect(ex.extract(text).category).toBe(category);
  });

  it('lists several problems in order', () => {
    const e = ex.extract('hay un bache y además la lámpara no prende');
    expect(e.category).toBe('baches');
    expect(e.categories).toEqual(['baches', 'alumbrado']);
    expect(ex.extract('hay un bache enorme').categories).toBeUndefined();
  });

  it.each([
    ['ke necesito pa sacar la licencia de funcionamiento', 'licencia-funcionamiento'],
    ['como pago el predial', 'pago-predial'],
    ['kiero la constancia de recidencia', 'constancia-residencia'],
    ['cuanto cuesta una fosa en el panteon', 'servicios-panteon'],
    ['how much is a building permit', 'licencia-construccion'],
  ])('procedure in %s → %s', (text, procedure) => {
    expect(ex.extract(text).procedure).toBe(procedure);
  });

  it.each([
    ['avisos de cortes de agua', 'agua'],
    ['alertas del camion de la basura', 'recoleccion'],
    ['avisos de cierres de calles', 'vialidad'],
    ['notices about events', 'eventos'],
  ])('topic in %s → %s', (text, topic) => {
    expect(ex.extract(text).topic).toBe(topic);
  });
});

describe('address (verbatim span without the colonia)', () => {
  it.each([
    [
      'oye q onda, hay un bache enorme en la calle 5 de mayo esq hidalgo col centro',
      'calle 5 de mayo esq hidalgo',
      'Centro',
    ],
    [
      'Hay un bache enorme en la calle Hidalgo esquina con Zaragoza, colonia Centro',
      'calle Hidalgo esquina con Zaragoza',
      'Centro',
    ],
    [
      'buenas, en la calle Reforma 45 de la colonia Fovissste la lámpara parpadea',
      'calle Reforma 45',
      'Fovissste',
    ],
    [
      'Reporte: alcantarilla azolvada en calle Guerrero entre Juárez y Bravo, se inunda',
      'calle Guerrero entre Juárez y Bravo',
      undefined,
    ],
    [
      'fuga de agua potable frente a la escuela primaria de Los Pinos, lleva 3 dias',
      'frente a la escuela primaria',
      'Los Pinos',
    ],
    ['el semaforo de la av. Juárez y Lerdo esta descompuesto', 'av. Juárez y Lerdo', undefined],
    ['I want to report a water leak on Independencia street', 'Independencia street', undefined],
    ['el semáforo está en rojo en Juárez y 5 de Mayo', 'Juárez y 5 de Mayo', undefined],
  ])('%s', (text, address, colonia) => {
    const e = ex.extract(text);
    expect(e.address).toBe(address);
    expect(e.colonia).toBe(colonia);
  });

  it.each([
    ['la lampara de mi calle no prende'],
    ['hay un hoyo en la calle q parece alberca'],
    ['en el parque'],
  ])('no address in %s', (text) => {
    expect(ex.extract(text).address).toBeUndefined();
  });
});
