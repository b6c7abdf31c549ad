package otp

// minorUnits maps every ISO 4217 alphabetic currency code to the number of
// digits of its minor unit, as ISO 4217 "List one" (published 2024-06-25 by
// SIX, the maintenance agency) gives them. Codes whose minor unit is "N.A."
// (precious metals, the SDR, bond-market units, XTS and XXX) are left out:
// they name no amount a payer could be shown.
var minorUnits = func() map[string]int {
	m := make(map[string]int, 170)
	for digits, codes := range []string{
		"BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF ",
		"",
		"AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB " +
			"BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC " +
			"CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD " +
			"GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT " +
			"LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN " +
			"MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON " +
			"RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL " +
			"THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD " +
			"YER ZAR ZMW ZWG ",
		"BHD IQD JOD KWD LYD OMR TND ",
		"CLF UYW ",
	} {
		for i := 0; i+3 <= len(codes); i += 4 {
			m[codes[i:i+3]] = digits
		}
	}
	return m
}()
