package sample

// Name tables. Universities and research institutes are real Shanxi institutions (their
// districts are where their main campus is, approximately); everything else (enterprises,
// agencies, people, foreign companies) is invented from the parts below.

// institutionSpec is a Shanxi university or research institute that sells technology and
// whose researchers share its proceeds (促进科技成果转化法 art. 45).
type institutionSpec struct {
	name        string
	kind        string   // university or research_institute
	region      string   // county-level GB/T 2260 code of its main site
	weight      int      // relative number of contracts it sells
	researchers int      // size of its researcher pool
	pilot       bool     // in Shanxi's 2022 赋权 pilot (docs/domain.md, Ownership)
	fields      []string // the technical fields it sells most in
}

var institutionSpecs = []institutionSpec{
	{"太原理工大学", "university", "140109", 30, 160, true, []string{"new_energy", "environment", "advanced_manufacturing", "new_materials", "electronic_information"}},
	{"山西大学", "university", "140105", 18, 120, true, []string{"electronic_information", "environment", "biomedicine", "new_materials"}},
	{"太原科技大学", "university", "140109", 12, 90, true, []string{"advanced_manufacturing", "new_materials", "electronic_information"}},
	{"中北大学", "university", "140108", 14, 110, false, []string{"advanced_manufacturing", "electronic_information", "new_materials", "aerospace"}},
	{"山西农业大学", "university", "140703", 12, 100, true, []string{"agriculture", "biomedicine", "environment"}},
	{"山西医科大学", "university", "140106", 6, 60, false, []string{"biomedicine"}},
	{"山西中医药大学", "university", "140702", 2, 25, false, []string{"biomedicine", "agriculture"}},
	{"太原工业学院", "university", "140108", 3, 30, false, []string{"advanced_manufacturing", "new_materials"}},
	{"山西大同大学", "university", "140213", 3, 30, false, []string{"new_energy", "agriculture", "urban_social"}},
	{"长治学院", "university", "140403", 2, 20, false, []string{"agriculture", "environment"}},
	{"运城学院", "university", "140802", 2, 20, false, []string{"agriculture", "new_materials"}},
	{"太原师范学院", "university", "140702", 2, 20, false, []string{"electronic_information", "urban_social"}},
	{"山西财经大学", "university", "140105", 1, 20, false, []string{"electronic_information", "urban_social"}},
	{"中国科学院山西煤炭化学研究所", "research_institute", "140106", 14, 100, false, []string{"new_materials", "new_energy", "environment"}},
	{"山西省农业科学院", "research_institute", "140105", 6, 60, false, []string{"agriculture"}},
	{"中国辐射防护研究院", "research_institute", "140105", 3, 40, false, []string{"nuclear", "environment"}},
	{"中国电子科技集团公司第三十三研究所", "research_institute", "140105", 3, 30, false, []string{"electronic_information", "new_materials"}},
	{"中国电子科技集团公司第二研究所", "research_institute", "140106", 3, 30, false, []string{"electronic_information", "advanced_manufacturing"}},
	{"中国日用化学工业研究院", "research_institute", "140106", 2, 20, false, []string{"new_materials", "biomedicine"}},
	{"山西省生物研究院", "research_institute", "140105", 2, 20, false, []string{"biomedicine", "agriculture"}},
}

// shanxiCities are Shanxi's prefecture-level cities (GB/T 2260 first four digits) with the
// short name used in company names and a weight for how much business they bring.
var shanxiCities = []struct {
	prefix, short string
	weight        int
}{
	{"1401", "太原", 30}, {"1402", "大同", 8}, {"1403", "阳泉", 5}, {"1404", "长治", 10},
	{"1405", "晋城", 8}, {"1406", "朔州", 5}, {"1407", "晋中", 9}, {"1408", "运城", 8},
	{"1409", "忻州", 5}, {"1410", "临汾", 7}, {"1411", "吕梁", 7},
}

// otherCities are places outside Shanxi that buy from (and sometimes sell to) Shanxi, weighted
// towards neighbouring provinces. The region is a district code under a known province prefix.
var otherCities = []struct {
	region, short string
	weight        int
}{
	{"110108", "北京", 12}, {"120116", "天津", 4}, {"130102", "石家庄", 6}, {"130602", "保定", 3},
	{"150102", "呼和浩特", 4}, {"150602", "鄂尔多斯", 5}, {"210102", "沈阳", 2}, {"310115", "上海", 6},
	{"320102", "南京", 4}, {"320505", "苏州", 4}, {"330106", "杭州", 4}, {"340104", "合肥", 2},
	{"370102", "济南", 4}, {"370203", "青岛", 3}, {"410105", "郑州", 6}, {"420106", "武汉", 3},
	{"440305", "深圳", 5}, {"440106", "广州", 2}, {"500112", "重庆", 2}, {"510107", "成都", 3},
	{"610113", "西安", 8}, {"620102", "兰州", 2}, {"640104", "银川", 2}, {"650104", "乌鲁木齐", 2},
}

// Parts of invented company names: 字号 characters, industries and legal forms.
var (
	brandChars = []rune("晋恒鑫泰华瑞丰润通达宏盛源昌立新鼎卓安宇博创远腾凯隆兴嘉祥德汇锦航")
	// industries are company lines of business with the technical fields they work in.
	industries = []struct {
		name   string
		fields []string
	}{
		{"能源科技", []string{"new_energy"}},
		{"煤业", []string{"new_energy", "environment", "advanced_manufacturing"}},
		{"新材料科技", []string{"new_materials"}},
		{"机械制造", []string{"advanced_manufacturing"}},
		{"化工", []string{"new_materials", "environment"}},
		{"环保科技", []string{"environment"}},
		{"农业开发", []string{"agriculture"}},
		{"医药", []string{"biomedicine"}},
		{"信息技术", []string{"electronic_information"}},
		{"电力工程", []string{"new_energy", "electronic_information"}},
		{"智能装备", []string{"advanced_manufacturing", "aerospace"}},
		{"建设工程", []string{"urban_social"}},
		{"生物科技", []string{"biomedicine", "agriculture"}},
		{"交通科技", []string{"modern_transport"}},
		{"焦化", []string{"environment", "new_energy"}},
		{"铸造", []string{"advanced_manufacturing", "new_materials"}},
		{"数据科技", []string{"electronic_information"}},
		{"检测技术", []string{"electronic_information", "nuclear", "urban_social"}},
		{"节能技术", []string{"new_energy", "environment"}},
		{"食品", []string{"agriculture"}},
	}
	legalForms = []struct {
		name   string
		weight int
	}{{"有限公司", 70}, {"股份有限公司", 15}, {"有限责任公司", 15}}
)

// foreignCompanies are invented companies abroad.
var foreignCompanies = []string{
	"Karaganda Mining Equipment LLP", "Ulaanbaatar Coal Technologies LLC",
	"Nordwerk Anlagenbau GmbH", "Pacific Resources Engineering Pty Ltd",
	"Tashkent Energy Systems JSC", "Saigon Industrial Automation Co., Ltd.",
	"Almaty Green Power LLP", "Rhein-Ruhr Kohletechnik GmbH",
	"Jakarta Smelting Solutions PT", "Novosibirsk Materials Research LLC",
}

// Other organizations in Shanxi that buy technology (invented, generic names), by kind.
var (
	governmentBuyers = []string{
		"太原市生态环境局", "晋中市科学技术局", "大同市规划和自然资源局", "朔州市农业农村局",
		"临汾市住房和城乡建设局", "长治市工业和信息化局", "运城市水务局", "吕梁市能源局",
	}
	medicalBuyers = []string{
		"太原市第二人民医院", "大同市第三人民医院", "长治市人民医院", "晋城市中医医院",
		"运城市中心医院", "忻州市妇幼保健院",
	}
	publicBuyers = []string{
		"太原市城市规划设计研究院", "山西省地质勘查服务中心", "晋城市检验检测中心",
		"阳泉市疾病预防控制中心", "吕梁市农业技术推广站", "临汾市气象服务中心",
	}
	socialBuyers = []string{"山西省煤炭技术协会", "太原市软件行业协会", "山西省农业产业化促进会"}
	hmtBuyers    = []string{"山西港晋新能源有限公司", "太原澳兴精密电子有限公司", "大同台晋食品有限公司"}
	fieBuyers    = []string{"大同中德精密机械有限公司", "太原晋美化工有限公司", "晋中日晋汽车零部件有限公司"}
	// intermediaryOrgs are technology transfer agencies (技术转移机构): enterprise or
	// other_public.
	intermediaryOrgs = []struct{ name, kind, region string }{
		{"山西晋创技术转移有限公司", "enterprise", "140105"},
		{"太原技术转移促进中心", "other_public", "140106"},
		{"山西中科成果转化服务有限公司", "enterprise", "140105"},
		{"长治市科技成果转化服务中心", "other_public", "140403"},
		{"山西转型综改示范区技术转移服务有限公司", "enterprise", "140105"},
		{"晋中市技术市场服务中心", "other_public", "140702"},
	}
)

// Chinese personal names: common surnames (Shanxi's most common first) and given-name
// characters.
var (
	surnames   = []rune("王李张刘郭赵杨武郝闫陈高梁韩任田贾冯孙白程段吴周徐胡朱马罗宋郑谢唐董曹袁邓许沈彭吕苏卢蒋蔡丁魏薛叶杜范石姚乔贺常史侯孟")
	givenChars = []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚文华建国晓红志斌鹏宇浩凯俊帆琳颖欣博瑞晨阳峰林晶慧婷雪飞亮海云波辉宁玲萍倩毅坤彬")
)

// fieldWeights gives each technical field's share of contracts, in the order of
// commands.Fields(): energy, environment, manufacturing and electronics lead in Shanxi.
var fieldWeights = []weighted{
	{"electronic_information", 16}, {"aerospace", 2}, {"advanced_manufacturing", 16},
	{"biomedicine", 7}, {"new_materials", 10}, {"new_energy", 17}, {"environment", 14},
	{"nuclear", 1}, {"agriculture", 8}, {"modern_transport", 4}, {"urban_social", 5},
}

// subjects are the things contracts are about, per field. A title is a subject followed by a
// phrase for the contract's subtype (titleSuffixes).
var subjects = map[string][]string{
	"environment": {
		"煤矸石综合利用技术", "焦化废水深度处理工艺", "粉煤灰提取氧化铝技术", "采煤沉陷区生态修复技术",
		"燃煤电厂烟气超低排放系统", "工业固废资源化利用技术", "汾河流域水污染治理技术",
		"矿井水净化回用系统", "危险废物无害化处置工艺", "农村生活污水处理装置",
	},
	"new_energy": {
		"高效节能锅炉控制系统", "煤层气高效抽采技术", "光伏电站智能运维系统", "氢燃料电池电堆",
		"焦炉煤气制氢技术", "工业余热回收利用系统", "储能电池管理系统", "风电机组状态监测系统",
		"中深层地热供暖技术", "煤电机组灵活性改造技术",
	},
	"advanced_manufacturing": {
		"智能综采工作面成套装备", "矿用防爆巡检机器人", "液压支架电液控制系统", "高精度轴承加工工艺",
		"数控机床远程故障诊断系统", "铸造工艺数值模拟技术", "带式输送机智能控制系统",
		"工业机器人焊接工作站", "激光增材制造修复技术", "掘进机自动截割系统",
	},
	"new_materials": {
		"高性能镁合金材料", "碳纤维复合材料成型工艺", "超薄不锈钢精密带材", "石墨烯导热膜制备技术",
		"煤基针状焦制备技术", "高纯氧化铝制备工艺", "低导热耐火材料", "特种玻璃纤维",
		"钕铁硼稀土永磁材料", "聚乳酸可降解材料",
	},
	"electronic_information": {
		"煤矿安全监测物联网平台", "智慧矿山5G通信系统", "工业大数据分析平台", "政务数据共享交换系统",
		"智能视频分析系统", "电力调度自动化软件", "北斗高精度定位终端", "网络安全态势感知平台",
		"医院信息管理系统", "企业资源计划管理软件",
	},
	"biomedicine": {
		"黄芪有效成分提取工艺", "连翘抗病毒制剂", "新型疫苗佐剂", "医用可降解镁合金支架",
		"医学影像智能辅助诊断系统", "远志皂苷纯化技术", "酶法合成医药中间体工艺", "体外诊断试剂盒",
		"中药配方颗粒质量标准", "康复训练辅助装置",
	},
	"agriculture": {
		"谷子新品种", "小杂粮精深加工技术", "设施蔬菜高效栽培技术", "旱作农业节水技术",
		"红枣保鲜贮藏技术", "苹果矮砧密植栽培技术", "畜禽粪污资源化利用技术",
		"马铃薯脱毒种薯繁育技术", "食用菌工厂化生产技术", "藜麦高产栽培技术",
	},
	"aerospace": {
		"航空发动机叶片无损检测技术", "无人机电力巡检系统", "卫星遥感矿区监测系统",
		"航空铝合金精密锻造工艺", "机载电子设备环境试验技术",
	},
	"nuclear": {
		"核辐射环境在线监测系统", "辐照诱变育种技术", "放射源安全监管平台", "核电站设备无损检测技术",
		"工业CT检测技术",
	},
	"modern_transport": {
		"重载铁路智能调度系统", "高速公路隧道照明节能系统", "新能源重卡换电技术", "桥梁健康监测系统",
		"城市轨道交通信号系统", "智能网联汽车测试技术",
	},
	"urban_social": {
		"古建筑数字化保护技术", "城市地下管网监测系统", "智慧社区管理平台", "城市集中供热管网优化技术",
		"装配式建筑施工技术", "老旧小区节能改造技术", "寺观彩塑修复技术", "城市内涝预警系统",
	},
}

// titleSuffixes are the title endings per subtype; other_ip and other_license depend on the
// kind of IP (titleSuffixForIP).
var titleSuffixes = map[string][]string{
	"commissioned":       {"开发", "研发", "研制", "技术开发"},
	"cooperative":        {"合作开发", "联合研发"},
	"patent_right":       {"专利权转让"},
	"patent_application": {"专利申请权转让"},
	"technical_secret":   {"技术秘密转让"},
	"equity":             {"技术入股"},
	"patent_license":     {"专利实施许可"},
	"secret_license":     {"技术秘密使用许可"},
	"feasibility":        {"可行性论证", "项目可行性研究"},
	"forecast":           {"发展趋势预测", "技术预测"},
	"survey":             {"专题技术调查", "应用现状调研"},
	"evaluation":         {"技术评价", "分析评价"},
	"general":            {"技术服务", "技术支持服务", "检测服务"},
	"training":           {"技术培训"},
	"brokerage":          {"技术中介服务", "成果转化中介服务"},
}

// Reasons a registrar records.
var (
	amountReasons = []string{"补充协议", "合同金额调整（补充协议）", "合同变更", "增加技术服务内容"}
	classReasons  = []string{"技术领域登记有误，予以更正", "合同类型认定更正", "合同类别复核调整"}
	revokeReasons = []string{"重复登记", "合同解除", "登记信息有误，申请撤销", "不符合技术合同认定条件"}
)
