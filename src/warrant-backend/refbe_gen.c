/*
 * refbe_gen — builds the reference back end's synthetic dataset: a carrier with
 * N subscribers spread over the 32 Mexican federal entities, their devices,
 * cell sites, CDRs (voice, SMS, data sessions), CGNAT port-block mappings
 * and location history over D local days (America/Mexico_City, UTC-6).
 *
 * Determinism is the point: every value is drawn from a counter-based PRNG
 * keyed by (seed, subscriber, day, purpose), never from rand() or the clock,
 * so the same (seed, N, D, end) gives byte-identical tables on any run, and
 * the location of a subscriber at any instant is a pure function that the
 * other side of an on-net call can evaluate too. Identifiers that must be
 * unique (MSISDN, IMSI, IMEI, CGNAT slot of a day) come from affine
 * bijections of the subscriber index, not from luck.
 *
 * Speed: one transaction per batch of subscribers, prepared statements,
 * journal off during the load, indexes built once at the end; the file is
 * built as PATH.tmp and renamed, so a half-built database never looks done.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "refbe_gen.h"
#include "refbe_store.h"
#include "log.h"
#include "wd_luhn.h"

#define US		1000000LL
#define DAY_US		(86400LL * US)
#define HOUR_US		(3600LL * US)
#define LOCAL_OFFSET_US	(6LL * HOUR_US)		/* UTC-6, no DST since 2022 */
#define BATCH		500			/* subscribers per transaction */
#define PORT_BLOCK	512			/* CGNAT ports per block */
#define PORT_BASE	1024
#define PORT_BLOCKS	((65536 - PORT_BASE) / PORT_BLOCK)

/* Purposes: the last key of every draw, so that streams never overlap. */
enum { T_SUB = 1, T_DAY, T_TRAVEL, T_ERRAND, T_CELL, T_SITE, T_SLOT, T_FIX, T_PERM };

/* --- the country ---------------------------------------------------------- */

struct state {
	const char	*curp;			/* CURP entity code */
	double		 lat, lon, spread;	/* main city, radius of the cells (deg) */
	unsigned	 weight;		/* population, 100k */
	unsigned	 cp_lo, cp_hi;		/* first two digits of its postal codes */
	const char	*lada[4];		/* area codes */
	const char	*muni[3];
};

/* Indexed by INEGI code - 1 (proto MexicanState - 1). */
static const struct state states[32] = {
	{ "AS", 21.8853, -102.2916, 0.15, 14, 20, 20, { "449" },
	  { "Aguascalientes", "Jesús María", "Calvillo" } },
	{ "BC", 32.4300, -116.9500, 0.06, 38, 21, 22, { "664", "686", "646" },
	  { "Tijuana", "Mexicali", "Ensenada" } },
	{ "BS", 24.1426, -110.3128, 0.10, 8, 23, 23, { "612", "624" },
	  { "La Paz", "Los Cabos", "Comondú" } },
	{ "CC", 19.8301, -90.5349, 0.10, 9, 24, 24, { "981", "938" },
	  { "Campeche", "Carmen", "Champotón" } },
	{ "CL", 25.4232, -101.0053, 0.15, 31, 25, 27, { "844", "871", "866" },
	  { "Saltillo", "Torreón", "Monclova" } },
	{ "CM", 19.2433, -103.7250, 0.08, 7, 28, 28, { "312", "314" },
	  { "Colima", "Manzanillo", "Villa de Álvarez" } },
	{ "CS", 16.7530, -93.1156, 0.20, 55, 29, 30, { "961", "962", "967" },
	  { "Tuxtla Gutiérrez", "Tapachula", "San Cristóbal de las Casas" } },
	{ "CH", 28.6330, -106.0691, 0.25, 37, 31, 33, { "614", "656", "627" },
	  { "Chihuahua", "Juárez", "Cuauhtémoc" } },
	{ "DF", 19.4326, -99.1332, 0.10, 92, 1, 16, { "55" },
	  { "Cuauhtémoc", "Benito Juárez", "Coyoacán" } },
	{ "DG", 24.0277, -104.6532, 0.20, 18, 34, 35, { "618", "871" },
	  { "Durango", "Gómez Palacio", "Lerdo" } },
	{ "GT", 21.1250, -101.6860, 0.20, 62, 36, 38, { "477", "462", "473" },
	  { "León", "Irapuato", "Guanajuato" } },
	{ "GR", 17.5500, -99.5000, 0.20, 35, 39, 41, { "744", "747", "733" },
	  { "Acapulco de Juárez", "Chilpancingo de los Bravo",
	    "Iguala de la Independencia" } },
	{ "HG", 20.1011, -98.7591, 0.15, 31, 42, 43, { "771", "775" },
	  { "Pachuca de Soto", "Tulancingo de Bravo", "Tula de Allende" } },
	{ "JC", 20.6597, -103.3496, 0.15, 83, 44, 49, { "33", "322", "341" },
	  { "Guadalajara", "Zapopan", "Puerto Vallarta" } },
	{ "MC", 19.3500, -99.4000, 0.20, 170, 50, 57, { "722", "55" },
	  { "Toluca", "Ecatepec de Morelos", "Naucalpan de Juárez" } },
	{ "MN", 19.7060, -101.1950, 0.20, 47, 58, 61, { "443", "452", "351" },
	  { "Morelia", "Uruapan", "Zamora" } },
	{ "MS", 18.9242, -99.2216, 0.10, 20, 62, 62, { "777", "735" },
	  { "Cuernavaca", "Cuautla", "Jiutepec" } },
	{ "NT", 21.5042, -104.8946, 0.12, 12, 63, 63, { "311", "322" },
	  { "Tepic", "Bahía de Banderas", "Santiago Ixcuintla" } },
	{ "NL", 25.6866, -100.3161, 0.15, 58, 64, 67, { "81", "821" },
	  { "Monterrey", "Guadalupe", "San Nicolás de los Garza" } },
	{ "OC", 17.0732, -96.7266, 0.20, 41, 68, 71, { "951", "971", "954" },
	  { "Oaxaca de Juárez", "Salina Cruz", "Juchitán de Zaragoza" } },
	{ "PL", 19.0414, -98.2063, 0.15, 66, 72, 75, { "222", "238" },
	  { "Puebla", "Tehuacán", "San Andrés Cholula" } },
	{ "QT", 20.5888, -100.3899, 0.12, 24, 76, 76, { "442", "427" },
	  { "Querétaro", "San Juan del Río", "Corregidora" } },
	{ "QR", 20.9000, -87.1000, 0.15, 19, 77, 77, { "998", "984", "983" },
	  { "Benito Juárez", "Solidaridad", "Othón P. Blanco" } },
	{ "SP", 22.1565, -100.9855, 0.20, 28, 78, 79, { "444", "481" },
	  { "San Luis Potosí", "Soledad de Graciano Sánchez", "Ciudad Valles" } },
	{ "SL", 24.8091, -107.3940, 0.20, 30, 80, 82, { "667", "669", "668" },
	  { "Culiacán", "Mazatlán", "Ahome" } },
	{ "SR", 29.0729, -110.9559, 0.25, 29, 83, 85, { "662", "644", "631" },
	  { "Hermosillo", "Cajeme", "Nogales" } },
	{ "TC", 17.9892, -92.9475, 0.15, 24, 86, 86, { "993", "937" },
	  { "Centro", "Cárdenas", "Comalcalco" } },
	{ "TS", 23.7364, -99.1411, 0.25, 35, 87, 89, { "834", "899", "868", "833" },
	  { "Victoria", "Reynosa", "Matamoros" } },
	{ "TL", 19.3182, -98.2375, 0.08, 13, 90, 90, { "246", "241" },
	  { "Tlaxcala", "Apizaco", "Huamantla" } },
	{ "VZ", 19.1738, -96.1342, 0.20, 81, 91, 96, { "229", "228", "921" },
	  { "Veracruz", "Xalapa", "Coatzacoalcos" } },
	{ "YN", 20.9674, -89.5926, 0.15, 23, 97, 97, { "999", "985" },
	  { "Mérida", "Valladolid", "Tizimín" } },
	{ "ZS", 22.7709, -102.5832, 0.20, 16, 98, 99, { "492", "493" },
	  { "Zacatecas", "Fresnillo", "Guadalupe" } },
};

/*
 * Mexican networks (MCC 334): 020 Telcel, 030 Movistar, 050 and 090 AT&T
 * (ex Iusacell and ex Nextel), 140 Altán (Red Compartida, wholesale). The
 * dataset is a host network with RAN sharing: cells broadcast any of them.
 */
static const struct { const char *mnc; unsigned weight; } mncs[] = {
	{ "020", 60 }, { "030", 10 }, { "050", 16 }, { "090", 6 }, { "140", 8 },
};
#define NMNC	(sizeof(mncs) / sizeof(mncs[0]))

/* Type allocation codes of the generated handsets (8 digits, invented). */
static const char *tacs[] = {
	"35332510", "35467211", "35290611", "35854909", "35174874", "35209879",
	"86891104", "86428705", "86769203", "35691510", "35347103", "86015403",
};
#define NTAC	(sizeof(tacs) / sizeof(tacs[0]))

static const char *given_m[] = {
	"José", "Juan", "Luis", "Carlos", "Jorge", "Miguel", "Francisco",
	"Alejandro", "Jesús", "Pedro", "Antonio", "Manuel", "Ricardo", "Fernando",
	"Eduardo", "Roberto", "Javier", "Sergio", "Arturo", "Daniel", "Raúl",
	"Óscar", "Héctor", "Diego", "Emiliano", "Santiago", "Mateo", "Rodrigo",
};
static const char *given_f[] = {
	"María", "Guadalupe", "Ana", "Rosa", "Patricia", "Laura", "Verónica",
	"Alejandra", "Gabriela", "Leticia", "Adriana", "Claudia", "Elena",
	"Margarita", "Silvia", "Sofía", "Valentina", "Ximena", "Fernanda",
	"Daniela", "Mariana", "Isabel", "Carmen", "Lucía", "Regina", "Camila",
	"Paola", "Teresa",
};
static const char *surnames[] = {
	"Hernández", "García", "Martínez", "López", "González", "Pérez",
	"Rodríguez", "Sánchez", "Ramírez", "Cruz", "Flores", "Gómez", "Morales",
	"Vázquez", "Reyes", "Jiménez", "Torres", "Díaz", "Gutiérrez", "Ruiz",
	"Mendoza", "Aguilar", "Ortiz", "Moreno", "Castillo", "Romero", "Álvarez",
	"Méndez", "Chávez", "Rivera", "Juárez", "Ramos", "Domínguez", "Herrera",
	"Medina", "Castro", "Vargas", "Guzmán", "Velázquez", "Rojas", "Contreras",
	"Salazar", "Luna", "Ortega", "Santiago", "Guerrero", "Estrada", "Bautista",
	"Cortés", "Soto", "Alvarado", "Espinoza", "Lara", "Ávila", "Ríos",
	"Cervantes", "Silva", "Delgado", "Vega", "Márquez", "Sandoval", "Carrillo",
	"León", "Mejía", "Solís", "Núñez", "Rosas", "Valdez", "Ibarra", "Campos",
};
static const char *streets[] = {
	"Av. Benito Juárez", "Calle Miguel Hidalgo", "Av. Reforma",
	"Calle José María Morelos", "Calle Ignacio Allende", "Av. Independencia",
	"Calle 5 de Mayo", "Calle 16 de Septiembre", "Av. Revolución",
	"Calle Emiliano Zapata", "Calle Francisco I. Madero", "Av. Insurgentes",
	"Calle Vicente Guerrero", "Calle Niños Héroes", "Av. Constitución",
	"Calle Guadalupe Victoria", "Calle Aldama", "Calle Matamoros",
	"Av. Lázaro Cárdenas", "Calle Venustiano Carranza", "Calle Juan Escutia",
	"Av. de las Américas", "Calle Pino Suárez", "Calle Galeana",
};
static const char *colonias[] = {
	"Centro", "Del Valle", "Las Flores", "Jardines del Sur", "San Rafael",
	"Lomas de San Juan", "El Mirador", "Santa María", "La Joya", "Las Palmas",
	"Industrial", "Reforma", "Moderna", "Obrera", "Guadalupe", "San Miguel",
	"Los Pinos", "Bellavista", "Villa Verde", "Campestre", "El Rosario",
	"Santa Cruz", "Hidalgo", "Independencia",
};
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* --- randomness ----------------------------------------------------------- */

uint64_t
refbe_gen_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A draw keyed by (seed, a, b, purpose): chained so that keys never alias. */
static uint64_t
key(uint64_t seed, uint64_t a, uint64_t b, uint64_t purpose)
{
	uint64_t s = seed ^ (purpose << 56);

	s = refbe_gen_splitmix64(&s) ^ a;
	s = refbe_gen_splitmix64(&s) ^ b;
	return refbe_gen_splitmix64(&s);
}

struct rng {
	uint64_t	s;
};

static uint64_t
rnext(struct rng *r)
{
	return refbe_gen_splitmix64(&r->s);
}

/* Uniform in [0, n), n > 0 (Lemire's multiply-shift; bias < 2^-32). */
static uint32_t
rbelow(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rnext(r) >> 32) * (uint64_t)n) >> 32);
}

static int64_t
rrange(struct rng *r, int64_t lo, int64_t hi)	/* [lo, hi] */
{
	return lo + (int64_t)(rnext(r) % (uint64_t)(hi - lo + 1));
}

static double
runit(struct rng *r)				/* [0, 1) */
{
	return (double)(rnext(r) >> 11) / 9007199254740992.0;
}

static double
round6(double v)
{
	double m = v * 1e6;

	return (double)(int64_t)(m + (m >= 0 ? 0.5 : -0.5)) / 1e6;
}

/* A point in the disc of radius rad around (lat, lon), rounded to 1e-6. */
static void
rdisc(struct rng *r, double lat, double lon, double rad, double *olat, double *olon)
{
	double x, y;

	do {
		x = 2 * runit(r) - 1;
		y = 2 * runit(r) - 1;
	} while (x * x + y * y > 1);
	*olat = round6(lat + y * rad);
	*olon = round6(lon + x * rad);
}

/* Affine bijection of [0, m): unique outputs for unique inputs. */
static uint64_t
perm(uint64_t i, uint64_t m, uint64_t mult, uint64_t off)
{
	return (i % m * (mult % m) + off % m) % m;
}

static uint64_t
gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* --- identifiers ---------------------------------------------------------- */

static const char curp_alphabet[] = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ";

static int
curp_value(char c)
{
	const char *p = strchr(curp_alphabet, c);

	return c && p ? (int)(p - curp_alphabet) : -1;
}

/* RENAPO's check digit: weights 18..2 over the first 17 characters. */
static char
curp_check(const char *c)
{
	int sum = 0, v;

	for (int i = 0; i < 17; i++) {
		if ((v = curp_value(c[i])) < 0)
			return 0;
		sum += v * (18 - i);
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

int
refbe_gen_curp_valid(const char *c)
{
	return strlen(c) == 18 && curp_check(c) == c[17];
}

/* First letter of a name in ASCII capitals (accents folded). */
static char
ascii_upper(const char *s, int skip_first, int want_vowel)
{
	static const struct { const char *utf8; char c; } fold[] = {
		{ "á", 'A' }, { "é", 'E' }, { "í", 'I' }, { "ó", 'O' }, { "ú", 'U' },
		{ "Á", 'A' }, { "É", 'E' }, { "Í", 'I' }, { "Ó", 'O' }, { "Ú", 'U' },
		{ "ñ", 'X' }, { "Ñ", 'X' },
	};
	int first = 1;

	while (*s) {
		char c = 0;
		size_t len = 1;
		for (size_t k = 0; k < NELEM(fold); k++)
			if (strncmp(s, fold[k].utf8, 2) == 0) {
				c = fold[k].c;
				len = 2;
				break;
			}
		if (c == 0)
			c = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
		s += len;
		if (skip_first && first) {
			first = 0;
			continue;
		}
		first = 0;
		if (c < 'A' || c > 'Z')
			continue;
		int vowel = strchr("AEIOU", c) != NULL;
		if (!want_vowel || (want_vowel == 1 && vowel) || (want_vowel == 2 && !vowel))
			return c;
	}
	return 'X';
}

/* CURP-like: structure and check digit as RENAPO's, from synthetic data. */
static void
make_curp(char out[19], const char *given, const char *s1, const char *s2,
    int yy, int mm, int dd, int female, int st, int after2000, struct rng *r)
{
	snprintf(out, 19, "%c%c%c%c%02u%02u%02u%c%s%c%c%c%c",
	    ascii_upper(s1, 0, 0), ascii_upper(s1, 1, 1), ascii_upper(s2, 0, 0),
	    ascii_upper(given, 0, 0), (unsigned)yy % 100u, (unsigned)mm % 100u,
	    (unsigned)dd % 100u, female ? 'M' : 'H',
	    states[st].curp, ascii_upper(s1, 1, 2), ascii_upper(s2, 1, 2),
	    ascii_upper(given, 1, 2),
	    after2000 ? (char)('A' + rbelow(r, 26)) : (char)('0' + rbelow(r, 10)));
	out[17] = curp_check(out);
	out[18] = '\0';
}

/* --- the model ------------------------------------------------------------ */

struct cell {
	double		lat, lon;
	uint8_t		state;		/* 0..31 */
};

struct sub {
	uint64_t	msisdn;
	uint64_t	imei[2];
	int64_t		change_us;	/* device imei[1] from then on; 0 = never */
	uint32_t	home, work;	/* cell indexes */
	uint8_t		state;
};

struct gen {
	const struct refbe_gen_params *p;
	sqlite3		*db;
	sqlite3_stmt	*ins_sub, *ins_dev, *ins_cell, *ins_loc, *ins_cdr, *ins_nat;
	struct cell	*cells;
	uint32_t	 ncells;
	uint32_t	 cell_first[32], cell_count[32];
	struct sub	*subs;
	int64_t		 start_us;	/* local midnight of the first day */
	uint64_t	 slots;		/* CGNAT (ip, block) pairs */
	unsigned	 wtotal;
	uint64_t	 rows;
};

static int
pick_state(struct gen *g, struct rng *r)
{
	uint32_t x = rbelow(r, g->wtotal);

	for (int i = 0; i < 32; i++) {
		if (x < states[i].weight)
			return i;
		x -= states[i].weight;
	}
	return 8;
}

static uint32_t
state_cell(struct gen *g, int st, uint64_t h)
{
	return g->cell_first[st] + (uint32_t)(h % g->cell_count[st]);
}

/*
 * Where subscriber i is at t: a pure function, so that both parties of an
 * on-net call agree. Home at night and on weekends, work on weekday office
 * hours, errands 10% of the hours, a trip to another state 1.5% of the days.
 */
static uint32_t
cell_at(struct gen *g, uint64_t i, int64_t t)
{
	const struct sub *s = &g->subs[i];
	int64_t	 rel = t - g->start_us;
	int64_t	 day = rel >= 0 ? rel / DAY_US : -1;
	int64_t	 hour = rel >= 0 ? rel / HOUR_US : -1;
	int	 hod = (int)((rel % DAY_US + DAY_US) % DAY_US / HOUR_US);
	int64_t	 lday = (t - LOCAL_OFFSET_US) / DAY_US;	/* days since epoch, local */
	int	 dow = (int)((lday + 4) % 7);		/* 0 = Sunday */
	uint64_t h;

	h = key(g->p->seed, i, (uint64_t)day, T_TRAVEL);
	if (h % 1000 < 15) {
		struct rng r = { h };
		int st = pick_state(g, &r);
		return state_cell(g, st, key(g->p->seed, i, (uint64_t)hour, T_CELL));
	}
	h = key(g->p->seed, i, (uint64_t)hour, T_ERRAND);
	if (h % 100 < 10)
		return state_cell(g, s->state, h >> 8);
	if (dow >= 1 && dow <= 5 && hod >= 9 && hod < 18)
		return s->work;
	return s->home;
}

static uint64_t
imei_at(const struct sub *s, int64_t t)
{
	return s->change_us && t >= s->change_us ? s->imei[1] : s->imei[0];
}

/* 15-digit IMEI of device number k: TAC, unique serial, Luhn digit. */
static uint64_t
make_imei(uint64_t seed, uint64_t k)
{
	char	 d[16];
	/* 7919 is prime, so coprime with NTAC * 10^6 = 2^8 3 5^6. */
	uint64_t x = perm(k, NTAC * 1000000, 7919, key(seed, 3, 0, T_PERM));

	snprintf(d, sizeof(d), "%.8s%06u", tacs[x % NTAC], (unsigned)(x / NTAC % 1000000));
	d[14] = wd_luhn_digit(d, 14);
	d[15] = '\0';
	return strtoull(d, NULL, 10);
}

/* --- SQLite helpers ------------------------------------------------------- */

static int
gen_exec(struct gen *g, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(g->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("generate: %s: %s", sql, err ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int
gen_step(struct gen *g, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		log_warnx("generate: insert: %s", sqlite3_errmsg(g->db));
		return -1;
	}
	g->rows++;
	return 0;
}

static int
gen_prepare(struct gen *g)
{
	static const struct { size_t off; const char *sql; } q[] = {
	    { offsetof(struct gen, ins_sub), "INSERT INTO subscriber VALUES"
	      "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)" },
	    { offsetof(struct gen, ins_dev), "INSERT INTO device VALUES(?1,?2,?3,?4)" },
	    { offsetof(struct gen, ins_cell), "INSERT INTO cell VALUES(?1,?2,?3,?4,?5,?6,?7,?8)" },
	    { offsetof(struct gen, ins_loc), "INSERT INTO location VALUES(?1,?2,?3,?4,?5,?6,?7,?8)" },
	    { offsetof(struct gen, ins_cdr), "INSERT INTO cdr VALUES"
	      "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)" },
	    { offsetof(struct gen, ins_nat), "INSERT INTO cgnat VALUES(?1,?2,?3,?4,?5,?6,?7)" },
	};

	for (size_t i = 0; i < NELEM(q); i++) {
		sqlite3_stmt **st = (sqlite3_stmt **)((char *)g + q[i].off);
		if (sqlite3_prepare_v3(g->db, q[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
		    st, NULL) != SQLITE_OK) {
			log_warnx("generate: %s: %s", q[i].sql, sqlite3_errmsg(g->db));
			return -1;
		}
	}
	return 0;
}

static void
gen_finalize(struct gen *g)
{
	sqlite3_finalize(g->ins_sub);
	sqlite3_finalize(g->ins_dev);
	sqlite3_finalize(g->ins_cell);
	sqlite3_finalize(g->ins_loc);
	sqlite3_finalize(g->ins_cdr);
	sqlite3_finalize(g->ins_nat);
}

/* --- cells ---------------------------------------------------------------- */

/* Three-sector sites around each state's main city. */
static int
gen_cells(struct gen *g)
{
	uint64_t total = g->p->subscribers / 25 > 192 ? g->p->subscribers / 25 : 192;
	uint32_t site = 0, n = 0;

	for (int st = 0; st < 32; st++) {
		uint64_t ns = total * states[st].weight / g->wtotal / 3;
		if (ns < 2)
			ns = 2;
		g->cell_count[st] = (uint32_t)ns * 3;
		g->ncells += g->cell_count[st];
	}
	if ((g->cells = calloc(g->ncells, sizeof(*g->cells))) == NULL) {
		log_warn("generate: cells");
		return -1;
	}
	for (int st = 0; st < 32; st++) {
		g->cell_first[st] = n;
		for (uint32_t k = 0; k < g->cell_count[st] / 3; k++, site++) {
			struct rng r = { key(g->p->seed, site, 0, T_SITE) };
			double	lat, lon;
			int	rat = 1 + (int)rbelow(&r, 20);	/* 1..20 */
			int	mnc = 0;
			uint32_t x = rbelow(&r, 100);

			rat = rat <= 1 ? 1 : rat <= 4 ? 2 : rat <= 18 ? 3 : 4;
			while (x >= mncs[mnc].weight)
				x -= mncs[mnc++].weight;
			rdisc(&r, states[st].lat, states[st].lon, states[st].spread,
			    &lat, &lon);
			for (int sector = 0; sector < 3; sector++, n++) {
				int64_t ci = rat >= 3 ? (int64_t)(100000 + site) << 8 | sector :
				    (int64_t)((site * 3 + sector) % 65535 + 1);
				sqlite3_stmt *s = g->ins_cell;
				g->cells[n].lat = lat;
				g->cells[n].lon = lon;
				g->cells[n].state = (uint8_t)st;
				sqlite3_bind_int64(s, 1, n + 1);
				sqlite3_bind_text(s, 2, mncs[mnc].mnc, -1, SQLITE_STATIC);
				sqlite3_bind_int(s, 3, (st + 1) * 1000 + (int)(k / 8));
				sqlite3_bind_int64(s, 4, ci);
				sqlite3_bind_int(s, 5, rat);
				sqlite3_bind_double(s, 6, lat);
				sqlite3_bind_double(s, 7, lon);
				sqlite3_bind_int(s, 8, sector * 120);
				if (gen_step(g, s) == -1)
					return -1;
			}
		}
	}
	return 0;
}

/* --- subscribers ---------------------------------------------------------- */

static void
gen_address(struct gen *g, struct rng *r, int st, sqlite3_stmt *s)
{
	char ext[16], in[16], cp[8];

	(void)g;
	snprintf(ext, sizeof(ext), "%d", (int)rrange(r, 1, 2999));
	if (rbelow(r, 10) < 3)
		snprintf(in, sizeof(in), "Depto. %d", (int)rrange(r, 1, 40));
	else
		in[0] = '\0';
	snprintf(cp, sizeof(cp), "%02d%03d",
	    (int)rrange(r, states[st].cp_lo, states[st].cp_hi), (int)rbelow(r, 1000));
	sqlite3_bind_text(s, 9, streets[rbelow(r, NELEM(streets))], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 10, ext, -1, SQLITE_TRANSIENT);
	if (in[0])
		sqlite3_bind_text(s, 11, in, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 12, colonias[rbelow(r, NELEM(colonias))], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 13, states[st].muni[rbelow(r, 3)], -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 14, st + 1);
	sqlite3_bind_text(s, 15, cp, -1, SQLITE_TRANSIENT);
}

/* Date parts of a day number since the epoch (proleptic Gregorian). */
static void
civil(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int
gen_devices(struct gen *g, uint64_t i, int64_t activation)
{
	struct sub *s = &g->subs[i];

	for (int k = 0; k < 2; k++) {
		int64_t since = k == 0 ? activation : s->change_us;
		int64_t until = k == 0 && s->change_us ? s->change_us : INT64_MAX;
		if (k == 1 && s->change_us == 0)
			break;
		sqlite3_bind_int64(g->ins_dev, 1, (int64_t)i + 1);
		sqlite3_bind_int64(g->ins_dev, 2, (int64_t)s->imei[k]);
		sqlite3_bind_int64(g->ins_dev, 3, since);
		sqlite3_bind_int64(g->ins_dev, 4, until);
		if (gen_step(g, g->ins_dev) == -1)
			return -1;
	}
	return 0;
}

static int
gen_subscriber(struct gen *g, uint64_t i)
{
	struct rng	 r = { key(g->p->seed, i, 0, T_SUB) };
	struct sub	*s = &g->subs[i];
	sqlite3_stmt	*st = g->ins_sub;
	const char	*given, *s1, *s2, *lada;
	char		 names[96], curp[19], rfc[16];
	int		 female = (int)rbelow(&r, 2), y, m, d, contract, mnc = 0;
	int64_t		 birth, activation;
	uint64_t	 local, digits, msin;
	uint32_t	 x;

	s->state = (uint8_t)pick_state(g, &r);
	s->home = state_cell(g, s->state, rnext(&r));
	s->work = state_cell(g, s->state, rnext(&r));
	/* MSISDN: 52 + area code + a local number unique per subscriber. */
	lada = states[s->state].lada[rbelow(&r, 4)];
	if (lada == NULL)
		lada = states[s->state].lada[0];
	digits = strlen(lada) == 2 ? 100000000ULL : 10000000ULL;
	local = 2 * digits / 10 + perm(i, 8 * digits / 10, 829348951ULL,
	    key(g->p->seed, 1, 0, T_PERM));
	s->msisdn = strtoull(lada, NULL, 10) * digits + local + 520000000000ULL;
	/* IMSI: 334 + MNC + 9-digit MSIN, unique per subscriber. */
	x = rbelow(&r, 100);
	while (x >= mncs[mnc].weight)
		x -= mncs[mnc++].weight;
	msin = perm(i, 1000000000ULL, 2654435761ULL, key(g->p->seed, 2, 0, T_PERM));
	s->imei[0] = make_imei(g->p->seed, 2 * i);
	s->imei[1] = make_imei(g->p->seed, 2 * i + 1);
	/* Activated up to eight years before the data; 12% change devices. */
	activation = g->start_us - rrange(&r, 30, 8 * 365) * DAY_US -
	    rrange(&r, 0, DAY_US / US - 1) * US;
	s->change_us = rbelow(&r, 100) < 12 ? g->start_us +
	    rrange(&r, HOUR_US, (int64_t)g->p->days * DAY_US - HOUR_US) : 0;

	given = female ? given_f[rbelow(&r, NELEM(given_f))] :
	    given_m[rbelow(&r, NELEM(given_m))];
	if (rbelow(&r, 3) == 0)
		snprintf(names, sizeof(names), "%s %s", given, female ?
		    given_f[rbelow(&r, NELEM(given_f))] : given_m[rbelow(&r, NELEM(given_m))]);
	else
		snprintf(names, sizeof(names), "%s", given);
	s1 = surnames[rbelow(&r, NELEM(surnames))];
	s2 = surnames[rbelow(&r, NELEM(surnames))];
	birth = g->start_us / DAY_US - rrange(&r, 18 * 365, 75 * 365);
	civil(birth, &y, &m, &d);
	make_curp(curp, names, s1, s2, y % 100, m, d, female, s->state, y >= 2000, &r);
	x = rbelow(&r, 100);
	contract = x < 68 ? 1 : x < 94 ? 2 : 3;
	if (contract == 3)
		snprintf(rfc, sizeof(rfc), "%c%c%c%02d%02d%02d%c%c%d",
		    'A' + rbelow(&r, 26), 'A' + rbelow(&r, 26), 'A' + rbelow(&r, 26),
		    (int)rrange(&r, 0, 23), (int)rrange(&r, 1, 12), (int)rrange(&r, 1, 28),
		    'A' + rbelow(&r, 26), '1' + rbelow(&r, 9), (int)rbelow(&r, 10));

	sqlite3_bind_int64(st, 1, (int64_t)i + 1);
	sqlite3_bind_int64(st, 2, (int64_t)s->msisdn);
	sqlite3_bind_int64(st, 3, (int64_t)(334000000000000ULL +
	    strtoull(mncs[mnc].mnc, NULL, 10) * 1000000000ULL + msin));
	sqlite3_bind_text(st, 4, names, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, s1, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, s2, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, curp, -1, SQLITE_TRANSIENT);
	if (contract == 3)
		sqlite3_bind_text(st, 8, rfc, -1, SQLITE_TRANSIENT);
	gen_address(g, &r, s->state, st);
	sqlite3_bind_int(st, 16, contract);
	sqlite3_bind_int64(st, 17, activation);
	if (gen_step(g, st) == -1)
		return -1;
	return gen_devices(g, i, activation);
}

/* --- events --------------------------------------------------------------- */

/* A fix at t: network (cell-based, by radio) or, 15% of them, GNSS. */
static int
gen_location(struct gen *g, uint64_t i, int64_t t, uint32_t c)
{
	struct rng	 r = { key(g->p->seed, i, (uint64_t)t, T_FIX) };
	sqlite3_stmt	*s = g->ins_loc;
	int		 gnss = rbelow(&r, 100) < 15;
	int		 acc = gnss ? (int)rrange(&r, 5, 40) : (int)rrange(&r, 150, 2500);
	double		 lat, lon;

	rdisc(&r, g->cells[c].lat, g->cells[c].lon, acc / 2 / 111000.0, &lat, &lon);
	sqlite3_bind_int64(s, 1, (int64_t)i + 1);
	sqlite3_bind_int64(s, 2, t);
	sqlite3_bind_int64(s, 3, c + 1);
	sqlite3_bind_double(s, 4, lat);
	sqlite3_bind_double(s, 5, lon);
	sqlite3_bind_int(s, 6, acc);
	sqlite3_bind_int(s, 7, gnss ? 2 : 1);
	sqlite3_bind_int64(s, 8, (int64_t)imei_at(&g->subs[i], t));
	return gen_step(g, s);
}

struct ev {
	uint64_t	i;		/* the subscriber whose CDR this is */
	int		service;	/* proto ServiceType */
	int		dir;		/* proto Direction */
	uint64_t	other;		/* other party's number, 0 for data */
	int64_t		t;
	int64_t		dur_s;
};

static int
gen_cdr(struct gen *g, const struct ev *e, const char *priv, const char *pub,
    int port, uint64_t up, uint64_t down)
{
	sqlite3_stmt *s = g->ins_cdr;

	sqlite3_bind_int64(s, 1, (int64_t)e->i + 1);
	sqlite3_bind_int(s, 2, e->service);
	sqlite3_bind_int(s, 3, e->dir);
	if (e->other)
		sqlite3_bind_int64(s, 4, (int64_t)e->other);
	sqlite3_bind_int64(s, 5, e->t);
	sqlite3_bind_int64(s, 6, e->dur_s);
	sqlite3_bind_int64(s, 7, (int64_t)imei_at(&g->subs[e->i], e->t));
	sqlite3_bind_int64(s, 8, cell_at(g, e->i, e->t) + 1);
	if (e->service != 2)	/* SMS: no end cell */
		sqlite3_bind_int64(s, 9, cell_at(g, e->i, e->t + e->dur_s * US) + 1);
	if (pub) {
		sqlite3_bind_text(s, 10, priv, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 11, pub, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 12, port);
		sqlite3_bind_int(s, 13, port + PORT_BLOCK - 1);
		sqlite3_bind_int64(s, 14, (int64_t)up);
		sqlite3_bind_int64(s, 15, (int64_t)down);
	}
	return gen_step(g, s);
}

/* A number outside the network: 52 + any area code + a local number. */
static uint64_t
offnet_number(struct rng *r)
{
	int		 st = (int)rbelow(r, 32);
	const char	*lada = states[st].lada[0];
	uint64_t	 digits = strlen(lada) == 2 ? 100000000ULL : 10000000ULL;

	return 520000000000ULL + strtoull(lada, NULL, 10) * digits +
	    2 * digits / 10 + rnext(r) % (8 * digits / 10);
}

/* Voice or SMS originated (or received from off-net) by subscriber i. */
static int
gen_call(struct gen *g, uint64_t i, int64_t day0, int service, int dir, struct rng *r)
{
	struct ev e = { i, service, dir, 0, 0, 0 };
	uint64_t  j = UINT64_MAX;

	e.t = day0 + rrange(r, 7 * HOUR_US, 23 * HOUR_US);
	if (service == 1)
		e.dur_s = rbelow(r, 100) < 65 ? rrange(r, 5, 180) : rrange(r, 181, 2400);
	if (dir == 1 && g->p->subscribers > 1 && rbelow(r, 100) < 70) {
		j = rbelow(r, (uint32_t)g->p->subscribers - 1);
		j += j >= i;		/* anyone but i */
		e.other = g->subs[j].msisdn;
	} else
		e.other = offnet_number(r);
	if (gen_cdr(g, &e, NULL, NULL, 0, 0, 0) == -1 ||
	    gen_location(g, i, e.t, cell_at(g, i, e.t)) == -1)
		return -1;
	if (j == UINT64_MAX)
		return 0;
	/* On-net: the other side's terminating record, same instant. */
	e.i = j;
	e.dir = 2;
	e.other = g->subs[i].msisdn;
	return gen_cdr(g, &e, NULL, NULL, 0, 0, 0);
}

static void
ipv4(char *buf, size_t len, uint32_t a)
{
	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
}

/*
 * A data session behind CGNAT. The (public IP, port block) slot of a
 * subscriber for a local day is an affine bijection of its index, so no two
 * subscribers ever share a slot at the same time; sessions end by midnight.
 */
static int
gen_data(struct gen *g, uint64_t i, unsigned d, int64_t day0, struct rng *r)
{
	struct ev	 e = { i, 3, 1, 0, 0, 0 };
	sqlite3_stmt	*s = g->ins_nat;
	uint64_t	 a = key(g->p->seed, d, 1, T_SLOT) % g->slots | 1;
	uint64_t	 b = key(g->p->seed, d, 2, T_SLOT), slot;
	char		 priv[16], pub[16];
	int		 port;
	uint64_t	 up, down;

	while (gcd(a, g->slots) != 1)
		a += 2;
	slot = perm(i, g->slots, a, b);
	ipv4(priv, sizeof(priv), 0x64400000u + (uint32_t)i);		/* 100.64/10 */
	ipv4(pub, sizeof(pub), 0xbbbc0000u + (uint32_t)(slot / PORT_BLOCKS));
	port = PORT_BASE + (int)(slot % PORT_BLOCKS) * PORT_BLOCK;
	e.t = day0 + rrange(r, 0, DAY_US - 61 * US);
	e.dur_s = rrange(r, 60, 6 * 3600);
	if (e.t + e.dur_s * US > day0 + DAY_US)
		e.dur_s = (day0 + DAY_US - e.t) / US;
	up = (uint64_t)rrange(r, 20000, 40000000);
	down = up * (uint64_t)rrange(r, 2, 12);
	if (gen_cdr(g, &e, priv, pub, port, up, down) == -1 ||
	    gen_location(g, i, e.t, cell_at(g, i, e.t)) == -1)
		return -1;
	sqlite3_bind_text(s, 1, pub, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, port);
	sqlite3_bind_int(s, 3, port + PORT_BLOCK - 1);
	sqlite3_bind_int64(s, 4, e.t);
	sqlite3_bind_int64(s, 5, e.t + e.dur_s * US);
	sqlite3_bind_int64(s, 6, (int64_t)i + 1);
	sqlite3_bind_text(s, 7, priv, -1, SQLITE_STATIC);
	return gen_step(g, s);
}

/* One local day of subscriber i. Counts average 1.5 calls, 0.3 calls from
 * off-net, 1 SMS, 0.5 SMS from off-net, 2 data sessions, 4 periodic fixes. */
static int
gen_day(struct gen *g, uint64_t i, unsigned d)
{
	static const int voice_mo[] = { 0, 1, 1, 2, 2, 3 }, data[] = { 1, 2, 2, 3 };
	struct rng	 r = { key(g->p->seed, i, d, T_DAY) };
	int64_t		 day0 = g->start_us + (int64_t)d * DAY_US;
	int		 n, k;

	n = voice_mo[rbelow(&r, 6)];
	for (k = 0; k < n; k++)
		if (gen_call(g, i, day0, 1, 1, &r) == -1)
			return -1;
	if (rbelow(&r, 3) == 0 && gen_call(g, i, day0, 1, 2, &r) == -1)
		return -1;
	n = (int)rbelow(&r, 3);
	for (k = 0; k < n; k++)
		if (gen_call(g, i, day0, 2, 1, &r) == -1)
			return -1;
	if (rbelow(&r, 2) == 0 && gen_call(g, i, day0, 2, 2, &r) == -1)
		return -1;
	n = data[rbelow(&r, 4)];
	for (k = 0; k < n; k++)
		if (gen_data(g, i, d, day0, &r) == -1)
			return -1;
	for (k = 0; k < 4; k++) {
		int64_t t = day0 + rrange(&r, 0, DAY_US - 1);
		if (gen_location(g, i, t, cell_at(g, i, t)) == -1)
			return -1;
	}
	return 0;
}

/* --- driver --------------------------------------------------------------- */

static double
elapsed(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static int
gen_meta(struct gen *g)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "INSERT INTO meta VALUES"
	    "('format',1),('seed','%" PRIu64 "'),('subscribers',%" PRIu64 "),"
	    "('days',%u),('data_start_us',%" PRId64 "),('data_end_us',%" PRId64 "),"
	    "('cgnat_max_session_us',%lld)", g->p->seed, g->p->subscribers,
	    g->p->days, g->start_us, g->p->end_us, DAY_US);
	return gen_exec(g, sql);
}

static int
gen_load(struct gen *g)
{
	struct timespec	t0;
	uint64_t	n = g->p->subscribers, i, next_report = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (gen_exec(g, "BEGIN") == -1 || gen_cells(g) == -1 || gen_meta(g) == -1)
		return -1;
	/* Profiles first: calls need the other party's number and cells. */
	for (i = 0; i < n; i++)
		if (gen_subscriber(g, i) == -1)
			return -1;
	if (gen_exec(g, "COMMIT") == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (i % BATCH == 0 && gen_exec(g, "BEGIN") == -1)
			return -1;
		for (unsigned d = 0; d < g->p->days; d++)
			if (gen_day(g, i, d) == -1)
				return -1;
		if ((i + 1) % BATCH == 0 || i + 1 == n) {
			if (gen_exec(g, "COMMIT") == -1)
				return -1;
			if (i + 1 >= next_report || i + 1 == n) {
				log_info("generate: %" PRIu64 "/%" PRIu64 " subscribers "
				    "(%d%%), %" PRIu64 " rows, %.1f s", i + 1, n,
				    (int)((i + 1) * 100 / n), g->rows, elapsed(&t0));
				next_report = i + 1 + (n / 20 > BATCH ? n / 20 : BATCH);
			}
		}
	}
	log_info("generate: building indexes");
	if (refbe_store_schema_indexes(g->db) == -1)
		return -1;
	log_info("generate: indexes built, %.1f s", elapsed(&t0));
	return 0;
}

static int
gen_open(struct gen *g, const char *tmp)
{
	if (sqlite3_open_v2(tmp, &g->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warnx("generate: %s: %s", tmp, g->db ? sqlite3_errmsg(g->db) : "no memory");
		return -1;
	}
	/* Nothing to protect during the load: the file is renamed when done. */
	if (gen_exec(g, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
	    "PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-262144;"
	    "PRAGMA page_size=8192; PRAGMA threads=2") == -1 ||
	    refbe_store_schema_tables(g->db) == -1 || gen_prepare(g) == -1)
		return -1;
	return 0;
}

static int
gen_close(struct gen *g)
{
	int rc = 0;

	gen_finalize(g);
	if (g->db && gen_exec(g, "PRAGMA journal_mode=WAL") == -1)
		rc = -1;
	if (g->db && sqlite3_close(g->db) != SQLITE_OK) {
		log_warnx("generate: close: %s", sqlite3_errmsg(g->db));
		rc = -1;
	}
	g->db = NULL;
	free(g->cells);
	free(g->subs);
	return rc;
}

int
refbe_gen_generate(const struct refbe_gen_params *p)
{
	struct gen	g;
	struct stat	st;
	char		tmp[4096];
	int		rc;

	if (p->subscribers == 0 || p->subscribers > 4000000 || p->days == 0 ||
	    p->days > 3660) {
		log_warnx("generate: 1..4000000 subscribers and 1..3660 days");
		return -1;
	}
	if (stat(p->path, &st) == 0) {
		log_warnx("generate: %s exists; not overwriting it", p->path);
		return -1;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", p->path) >= sizeof(tmp)) {
		log_warnx("generate: path too long");
		return -1;
	}
	memset(&g, 0, sizeof(g));
	g.p = p;
	g.start_us = p->end_us - (int64_t)p->days * DAY_US;
	for (int i = 0; i < 32; i++)
		g.wtotal += states[i].weight;
	g.slots = (p->subscribers / PORT_BLOCKS + 1) * PORT_BLOCKS;
	if ((g.subs = calloc(p->subscribers, sizeof(*g.subs))) == NULL) {
		log_warn("generate: subscribers");
		return -1;
	}
	unlink(tmp);
	rc = gen_open(&g, tmp) == -1 || gen_load(&g) == -1 ? -1 : 0;
	if (gen_close(&g) == -1)
		rc = -1;
	if (rc == 0 && rename(tmp, p->path) == -1) {
		log_warn("generate: rename %s", tmp);
		rc = -1;
	}
	if (rc == -1)
		unlink(tmp);
	return rc;
}

/* --- canonical digest ----------------------------------------------------- */

static void
digest_u64(EVP_MD_CTX *md, uint8_t tag, uint64_t v)
{
	uint8_t b[9];

	b[0] = tag;
	for (int i = 0; i < 8; i++)
		b[1 + i] = (uint8_t)(v >> (56 - 8 * i));
	EVP_DigestUpdate(md, b, sizeof(b));
}

/*
 * Every table (sorted by name) in rowid order (primary key order for
 * WITHOUT ROWID tables), every column as type tag + value: integers and
 * doubles as 8 big-endian bytes, text and blobs length-prefixed, NULL as a
 * tag alone. Independent of page layout, WAL state and SQLite version.
 */
static int
digest_table(sqlite3 *db, EVP_MD_CTX *md, const char *table)
{
	sqlite3_stmt	*st;
	char		 sql[256];
	int		 rc, n;

	snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY %s", table,
	    strcmp(table, "meta") == 0 ? "key" :
	    strcmp(table, "preservation") == 0 ? "subscriber, reference" : "rowid");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("digest: %s: %s", table, sqlite3_errmsg(db));
		return -1;
	}
	digest_u64(md, 'T', strlen(table));
	EVP_DigestUpdate(md, table, strlen(table));
	n = sqlite3_column_count(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int c = 0; c < n; c++) {
			double	 dv;
			uint64_t u;
			switch (sqlite3_column_type(st, c)) {
			case SQLITE_INTEGER:
				digest_u64(md, 'i', (uint64_t)sqlite3_column_int64(st, c));
				break;
			case SQLITE_FLOAT:
				dv = sqlite3_column_double(st, c);
				memcpy(&u, &dv, sizeof(u));
				digest_u64(md, 'f', u);
				break;
			case SQLITE_NULL:
				EVP_DigestUpdate(md, "n", 1);
				break;
			default:
				digest_u64(md, 's', (uint64_t)sqlite3_column_bytes(st, c));
				EVP_DigestUpdate(md, sqlite3_column_blob(st, c),
				    (size_t)sqlite3_column_bytes(st, c));
			}
		}
	}
	if (rc != SQLITE_DONE)
		log_warnx("digest: %s: %s", table, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
refbe_gen_digest(const char *path, uint8_t out[32])
{
	static const char *tables[] = { "cdr", "cell", "cgnat", "device",
	    "location", "meta", "preservation", "subscriber" };
	sqlite3		*db = NULL;
	EVP_MD_CTX	*md;
	int		 rc = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		log_warnx("digest: %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
		sqlite3_close(db);
		return -1;
	}
	if ((md = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		rc = -1;
	for (size_t i = 0; rc == 0 && i < NELEM(tables); i++)
		rc = digest_table(db, md, tables[i]);
	if (rc == 0 && !EVP_DigestFinal_ex(md, out, NULL))
		rc = -1;
	EVP_MD_CTX_free(md);
	sqlite3_close(db);
	return rc;
}
